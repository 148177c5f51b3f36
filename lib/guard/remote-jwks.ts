import { createPublicKey, type KeyObject } from 'node:crypto';
import { IssuerUnavailableError } from '../errors';
import type { SigningAlgorithm, VerificationKey, VerificationKeys } from '../tokens';
import { discover, fetchJson, type FetchLike } from './http-json';

export interface RemoteJwksOptions {
  issuer: string;
  /** JWKS URL; undefined: discovered from the issuer's RFC 8414 metadata. */
  jwksUri?: string;
  algorithms: readonly SigningAlgorithm[];
  /** Least seconds between two fetches caused by unknown kids. */
  cooldownSeconds: number;
  /** Seconds after which the key set is refreshed on next use. */
  maxAgeSeconds: number;
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

/**
 * Keys fetched from the issuer's JWKS. An unknown kid triggers a refetch at most once per cooldown
 * (garbage tokens cannot cause a fetch storm); when the issuer is down, the keys already held keep
 * working. The URL comes from configuration or discovery, never from a token.
 */
export class RemoteJwks implements VerificationKeys {
  private keys = new Map<string, VerificationKey>();
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private inFlight: Promise<void> | null = null;
  /** Why the last fetch failed; null once one succeeds. */
  private lastError: Error | null = null;
  private jwksUri: string | undefined;
  private readonly fetchImpl: FetchLike;
  private readonly cooldownMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: RemoteJwksOptions) {
    this.jwksUri = options.jwksUri;
    this.fetchImpl = options.fetch;
    this.cooldownMs = options.cooldownSeconds * 1000;
    this.maxAgeMs = options.maxAgeSeconds * 1000;
    this.timeoutMs = options.timeoutMs;
  }

  async keyFor(kid: string): Promise<VerificationKey | undefined> {
    const now = Date.now();
    const stale = now - this.fetchedAt > this.maxAgeMs;
    const cooled = now - this.attemptedAt >= this.cooldownMs;
    const known = this.keys.has(kid);
    if ((stale || !known) && cooled) {
      // Issuer down: keep serving with the keys we hold (the failure is kept in lastError).
      await this.refresh().catch(() => undefined);
    } else if (!known && this.inFlight) {
      // A fetch started by a concurrent request (it opened the cooldown) may bring this kid: wait for it.
      await this.inFlight.catch(() => undefined);
    }
    // With no keys at all we cannot judge any token: 503, also while the cooldown holds off a retry
    // (otherwise every request in the cooldown would read as a bad token, 401).
    if (this.keys.size === 0 && this.lastError !== null) throw this.lastError;
    return this.keys.get(kid);
  }

  private refresh(): Promise<void> {
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async load(): Promise<void> {
    this.attemptedAt = Date.now();
    try {
      this.jwksUri ??= (await discover(this.fetchImpl, this.options.issuer, this.timeoutMs)).jwksUri;
      if (!this.jwksUri) throw new IssuerUnavailableError('the issuer metadata has no jwks_uri');
      this.keys = parseKeySet(await fetchJson(this.fetchImpl, this.jwksUri, this.timeoutMs), this.options.algorithms);
      this.fetchedAt = Date.now();
      this.lastError = null;
    } catch (err) {
      this.lastError = err instanceof Error ? err : new IssuerUnavailableError(String(err));
      throw this.lastError;
    }
  }
}
