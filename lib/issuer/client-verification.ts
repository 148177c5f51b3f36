import type { ClientCredentials, Registry } from '../registry';
import type { SecretMethod } from './presented-credentials';
import type { SecretVerifier } from './secret-verifier';
import { authAttempt, type AuthAttempt, type FailureThrottle } from './throttle';

/** Longest client_id we look up; longer ones are unknown by definition (ours are 22 characters). */
export const MAX_CLIENT_ID_LENGTH = 256;

/** What checking presented credentials concluded. */
export type Verdict =
  | { kind: 'authenticated'; client: ClientCredentials }
  /**
   * Unknown client, wrong secret, disabled client, another method than the client's own: all alike.
   * `delayMs`: the answer is held back that long; `detail`: why, for the audit event only.
   */
  | { kind: 'refused'; delayMs: number; detail?: string }
  /** This address made too many failed attempts: it waits `retryAfter` seconds. */
  | { kind: 'throttled'; retryAfter: number };

export interface ClientVerificationDeps {
  registry: Registry;
  secrets: SecretVerifier;
  /** None: no throttling. */
  throttle?: FailureThrottle;
}

/**
 * The steps of client authentication after the credentials are read (RFC 6749 §2.3.1), in order:
 * the registry's credentials; a secret recently verified right passes at once, before the throttle
 * is asked (so nobody else's failures can keep a client out); the throttle's word for this address;
 * then bcrypt. Unknown client, wrong secret and disabled client cost the same and look the same.
 */
export class ClientVerification {
  constructor(private readonly deps: ClientVerificationDeps) {}

  async verify(method: SecretMethod, clientId: string, secrets: string[], address: string | undefined): Promise<Verdict> {
    const client = clientId.length <= MAX_CLIENT_ID_LENGTH ? await this.deps.registry.findClientCredentials(clientId) : null;
    if (secrets.length === 0) return this.withoutSecret(client, authAttempt(clientId, address));
    // RFC 6749 §2.3: a client uses its own method only. Another one costs and answers as an unknown client.
    const hashes = client?.type === 'confidential' && client.authMethod === method ? client.secretHashes : null;
    // A recognized secret asks nothing more: no throttle counter is read or written (on PostgreSQL, no query).
    if (client?.enabled && hashes && this.deps.secrets.recognizes(clientId, secrets, hashes)) return { kind: 'authenticated', client };
    const attempt = authAttempt(clientId, address);
    const { throttle } = this.deps;
    const wait = throttle ? await throttle.retryAfter(attempt) : 0;
    if (wait > 0) return { kind: 'throttled', retryAfter: wait };
    const right = await this.deps.secrets.verify(clientId, secrets, hashes, attempt.address);
    // Parallel guesses let in before a lock engaged finish after it: their outcome is withheld, right
    // or wrong, so a burst from one address learns no more answers than the limit allows.
    const lockedFor = throttle ? await throttle.retryAfter(attempt) : 0;
    if (right && client?.enabled) {
      if (lockedFor > 0) return { kind: 'throttled', retryAfter: lockedFor };
      await throttle?.recordSuccess(attempt);
      return { kind: 'authenticated', client };
    }
    const delayMs = throttle ? await throttle.recordFailure(attempt, true) : 0;
    if (lockedFor > 0) return { kind: 'throttled', retryAfter: lockedFor };
    return { kind: 'refused', delayMs, detail: detailOf(client, method) };
  }

  /** A client that only identified itself: a public client (RFC 6749 §2.3.1 / §3.2.1), else a failure of the address alone. */
  private async withoutSecret(client: ClientCredentials | null, attempt: AuthAttempt): Promise<Verdict> {
    if (client?.type === 'public' && client.enabled) return { kind: 'authenticated', client };
    const { throttle } = this.deps;
    const wait = throttle ? await throttle.retryAfter(attempt) : 0;
    if (wait > 0) return { kind: 'throttled', retryAfter: wait };
    await throttle?.recordFailure(attempt, false);
    return { kind: 'refused', delayMs: 0 };
  }
}

/** Why a secret was refused, for the audit event only (the answer is the same). */
function detailOf(client: ClientCredentials | null, method: SecretMethod): string {
  if (client === null) return 'client_unknown';
  if (client.authMethod !== method) return 'wrong_method';
  return client.enabled ? 'wrong_secret' : 'client_disabled';
}
