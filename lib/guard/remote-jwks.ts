import { createPublicKey, type KeyObject } from 'node:crypto';
import { IssuerUnavailableError } from '../errors';
import type { SigningAlgorithm, VerificationKey, VerificationKeys } from '../tokens';
import { discover, fetchJson, type FetchLike } from './http-json';

export interface RemoteJwksOptions {
  issuer: string;
  /** JWKS URL; undefined: discovered from the issuer's RFC 8414 metadata. */
  jwksUri?: string;
  algorithms: readonly SigningAlgorithm[];
  /** Window bounding the fetches unknown kids cause: at most UNKNOWN_KID_FETCHES_PER_COOLDOWN per window; after a failed fetch, none within it. */
  cooldownSeconds: number;
  /** Least seconds between the last fetch and one caused by an unknown kid (capped at the cooldown). */
  refetchIntervalSeconds: number;
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
 * Fetches unknown kids may cause per cooldown window: a garbage token just before a rotation spends
 * one, and the new key's first token still gets its fetch; a flood of garbage kids costs the issuer
 * at most this many fetches per window.
 */
export const UNKNOWN_KID_FETCHES_PER_COOLDOWN = 3;

const wait = (ms: number): Promise<void> => (ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms).unref()));

/**
 * Keys fetched from the issuer's JWKS. An unknown kid triggers a refetch once the last fetch is
 * `refetchIntervalSeconds` old (a request arriving sooner waits for that moment, sharing one fetch
 * with every other), at most UNKNOWN_KID_FETCHES_PER_COOLDOWN times per cooldown window, so garbage
 * tokens cannot cause a fetch storm nor lock out a rotated key for a whole cooldown. When the issuer
 * is down, the keys already held keep working and it is asked again only after the cooldown. The
 * URL comes from configuration or discovery, never from a token.
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
  private readonly refetchIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;
  /** When the fetches caused by unknown kids (in the current window) started. */
  private unknownKidFetches: number[] = [];

  constructor(private readonly options: RemoteJwksOptions) {
    this.jwksUri = options.jwksUri;
    this.fetchImpl = options.fetch;
    this.cooldownMs = options.cooldownSeconds * 1000;
    this.refetchIntervalMs = Math.min(options.refetchIntervalSeconds * 1000, this.cooldownMs);
    this.maxAgeMs = options.maxAgeSeconds * 1000;
    this.timeoutMs = options.timeoutMs;
  }

  async keyFor(kid: string): Promise<VerificationKey | undefined> {
    const now = Date.now();
    if (!this.keys.has(kid)) {
      await this.fetchForUnknownKid(now);
    } else if (now - this.fetchedAt > this.maxAgeMs && now - this.attemptedAt >= this.cooldownMs) {
      // Issuer down: keep serving with the keys we hold (the failure is kept in lastError).
      await this.refresh(0).catch(() => undefined);
    }
    // With no keys at all we cannot judge any token: 503, also while the cooldown holds off a retry
    // (otherwise every request in the cooldown would read as a bad token, 401).
    if (this.keys.size === 0 && this.lastError !== null) throw this.lastError;
    return this.keys.get(kid);
  }

  /** A kid we do not hold: a key published since our last fetch (a rotation), or garbage. */
  private async fetchForUnknownKid(now: number): Promise<void> {
    // A fetch under way, or waiting for its moment, may bring this kid: wait for it rather than start another.
    if (this.inFlight) return this.inFlight.catch(() => undefined);
    const delay = this.unknownKidDelay(now);
    if (delay === null) return;
    this.unknownKidFetches.push(now + delay);
    await this.refresh(delay).catch(() => undefined);
  }

  /** How long to wait before fetching for an unknown kid; null: not within this window (budget spent, or the issuer just failed). */
  private unknownKidDelay(now: number): number | null {
    const sinceAttempt = now - this.attemptedAt;
    if (this.lastError !== null && sinceAttempt < this.cooldownMs) return null;
    this.unknownKidFetches = this.unknownKidFetches.filter((at) => now - at < this.cooldownMs);
    if (this.unknownKidFetches.length >= UNKNOWN_KID_FETCHES_PER_COOLDOWN) return null;
    return Math.max(0, this.refetchIntervalMs - sinceAttempt);
  }

  /** One fetch at a time, after `delayMs`; concurrent callers share it. */
  private refresh(delayMs: number): Promise<void> {
    this.inFlight ??= wait(delayMs)
      .then(() => this.load())
      .finally(() => {
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
