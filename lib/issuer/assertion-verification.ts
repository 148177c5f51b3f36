import { AssertionRejected, type AssertionRejectionReason } from '../errors';
import type { ClientCredentials, Registry } from '../registry';
import { replayId } from '../replay-id';
import { verifyClientAssertion } from '../tokens';
import type { ClientKeySets } from './client-keys';
import { MAX_CLIENT_ID_LENGTH, type Verdict } from './client-verification';

/** The replay cache's namespace for client assertions (RFC 7523 §3 item 7: jti used once). */
export const ASSERTION_REPLAY_NAMESPACE = 'client_assertion';

export interface AssertionVerificationDeps {
  registry: Registry;
  keySets: ClientKeySets;
  /** What `aud` may name: the issuer identifier and the token endpoint URL (RFC 7523 §3 item 3). */
  audiences: string[];
  /** Longest an assertion may live from now, in seconds. */
  maxLifetimeSeconds: number;
  clockToleranceSeconds: number;
  maxLength: number;
}

/** Why a client was refused before its assertion was looked at. */
type ClientRefusal = 'client_unknown' | 'client_disabled' | 'wrong_method';

/**
 * private_key_jwt (RFC 7523 §2.2 and §3): the client's own keys, the assertion's checks, then its
 * jti recorded in the registry's replay cache, shared by every instance on the same storage. Every
 * failure is the same refusal (invalid_client); the reason goes to the audit event only.
 */
export class AssertionVerification {
  constructor(private readonly deps: AssertionVerificationDeps) {}

  async verify(clientId: string | null, assertion: string): Promise<Verdict> {
    const client = clientId !== null && clientId.length <= MAX_CLIENT_ID_LENGTH ? await this.deps.registry.findClientCredentials(clientId) : null;
    const refusal = refusalOf(client);
    if (refusal !== null || client === null) return refused(refusal ?? 'client_unknown');
    try {
      const keys = this.deps.keySets.keysOf(client);
      const { jti, exp } = await verifyClientAssertion(assertion, {
        clientId: client.clientId,
        keys,
        audiences: this.deps.audiences,
        maxLifetimeSeconds: this.deps.maxLifetimeSeconds,
        clockToleranceSeconds: this.deps.clockToleranceSeconds,
        maxLength: this.deps.maxLength,
      });
      // Kept until the assertion could no longer pass anyway: its exp plus the clock tolerance.
      const fresh = await this.deps.registry.useOnce(ASSERTION_REPLAY_NAMESPACE, replayId(client.clientId, jti), exp + this.deps.clockToleranceSeconds);
      return fresh ? { kind: 'authenticated', client } : refused('replayed');
    } catch (err) {
      if (err instanceof AssertionRejected) return refused(err.reason);
      throw err;
    }
  }
}

function refusalOf(client: ClientCredentials | null): ClientRefusal | null {
  if (client === null) return 'client_unknown';
  if (client.authMethod !== 'private_key_jwt') return 'wrong_method';
  return client.enabled ? null : 'client_disabled';
}

const refused = (detail: AssertionRejectionReason | ClientRefusal): Verdict => ({ kind: 'refused', delayMs: 0, detail });
