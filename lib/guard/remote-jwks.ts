import { createPublicKey, type KeyObject } from 'node:crypto';
import { IssuerUnavailableError, RemoteFetchError } from '../errors';
import { KeySetRefresher, UNKNOWN_KID_FETCHES_PER_COOLDOWN, type KeySetRefreshPolicy } from '../remote/key-set';
import type { SigningAlgorithm, VerificationKey, VerificationKeys } from '../tokens';
import { discover, fetchJson, type FetchLike } from './http-json';

export { UNKNOWN_KID_FETCHES_PER_COOLDOWN };

export interface RemoteJwksOptions extends KeySetRefreshPolicy {
  issuer: string;
  /** JWKS URL; undefined: discovered from the issuer's RFC 8414 metadata. */
  jwksUri?: string;
  algorithms: readonly SigningAlgorithm[];
  timeoutMs: number;
  fetch: FetchLike;
}

const KTY_OF: Record<SigningAlgorithm, string> = { RS256: 'RSA', ES256: 'EC' };

/** The usable signing keys of a JWK Set (RFC 7517 §4): right kty for the alg, use sig, with a kid. */
function parseKeySet(body: Record<string, unknown>, algorithms: readonly SigningAlgorithm[]): Map<string, VerificationKey> {
  const keys = new Map<string, VerificationKey>();
  if (!Array.isArray(body.keys)) throw new IssuerUnavailableError('JWKS has no keys array');
  for (const jwk of body.keys as Record<string, unknown>[]) {
    if (typeof jwk !== 'object' || jwk === null) continue;
    const alg = jwk.alg as SigningAlgorithm;
    if (typeof jwk.kid !== 'string' || !algorithms.includes(alg) || jwk.kty !== KTY_OF[alg]) continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e, crv: jwk.crv, x: jwk.x, y: jwk.y } as never, format: 'jwk' });
    } catch {
      continue; // one bad key does not spoil the set
    }
    if (key.type !== 'public') continue;
    keys.set(jwk.kid, { kid: jwk.kid, alg, key });
  }
  return keys;
}

/** The guard's failures are all IssuerUnavailableError (503): a shared-layer failure is wrapped, keeping its reason's sense. */
function issuerUnavailable(err: unknown): Error {
  if (err instanceof RemoteFetchError) {
    return new IssuerUnavailableError(err.message, err.reason === 'unreachable' || err.reason === 'timeout' ? 'unreachable' : 'bad_answer');
  }
  return err instanceof Error ? err : new IssuerUnavailableError(String(err));
}

/**
 * Keys fetched from the issuer's JWKS: discovery (or the configured URL), then the shared refetch
 * policy of KeySetRefresher (lib/remote): an unknown kid refetches within a budget per cooldown, the
 * keys held keep working while the issuer is down. The URL comes from configuration or discovery,
 * never from a token.
 */
export class RemoteJwks implements VerificationKeys {
  private jwksUri: string | undefined;
  private readonly keys: KeySetRefresher<Map<string, VerificationKey>>;

  constructor(private readonly options: RemoteJwksOptions) {
    this.jwksUri = options.jwksUri;
    this.keys = new KeySetRefresher(() => this.fetchKeys(), new Map<string, VerificationKey>(), options);
  }

  async keyFor(kid: string): Promise<VerificationKey | undefined> {
    const held = await this.keys.current((set) => set.has(kid));
    return held.get(kid);
  }

  /** The key for kid when it is held and no refresh of the set is due (keyFor would answer it without fetching); else undefined. */
  knownKey(kid: string): VerificationKey | undefined {
    return this.keys.known((set) => set.has(kid))?.get(kid);
  }

  private async fetchKeys(): Promise<Map<string, VerificationKey>> {
    try {
      this.jwksUri ??= (await discover(this.options.fetch, this.options.issuer, this.options.timeoutMs)).jwksUri;
      if (!this.jwksUri) throw new IssuerUnavailableError('the issuer metadata has no jwks_uri');
      return parseKeySet(await fetchJson(this.options.fetch, this.jwksUri, this.options.timeoutMs), this.options.algorithms);
    } catch (err) {
      throw issuerUnavailable(err);
    }
  }
}
