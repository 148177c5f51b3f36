import jwt from 'jsonwebtoken';
import { parseScope } from '../scope';
import { ACCESS_TOKEN_TYP, type AccessTokenClaims } from './claims';
import { readHeader } from './jwt';
import type { SigningAlgorithm, VerificationKeys } from './keyring';
import { VerifiedTokenCache, type VerifiedCacheOptions } from './verified-cache';

export interface VerifierOptions {
  /** Expected `iss`, compared exactly (RFC 9068 §4). */
  issuer: string;
  /** Accepted audience(s): the token's `aud` must contain one (RFC 9068 §4). */
  audience: string | string[];
  /** Signature algorithms accepted (default RS256 and ES256; `none` and HMAC are never accepted). */
  algorithms?: SigningAlgorithm[];
  /** Seconds of clock skew allowed on exp / nbf / iat (default 5). */
  clockToleranceSeconds?: number;
  /** Longest token accepted, in characters (default 4096). */
  maxTokenLength?: number;
  /** Cache of verified tokens; `{ maxEntries: 0 }` disables it. */
  cache?: VerifiedCacheOptions;
}

export const DEFAULT_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];

/** A token that is not a valid ccgate access token; the message is safe to send to the caller. */
export class TokenRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenRejected';
  }
}

/** RFC 9068 §4 accepts `at+jwt` and its long form; header types compare case-insensitively (RFC 7515 §4.1.9). */
function isAccessTokenType(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === ACCESS_TOKEN_TYP || t === `application/${ACCESS_TOKEN_TYP}`;
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The claims a ccgate access token must carry, with their types (RFC 9068 §2.2). */
function assertClaimShapes(payload: Record<string, unknown>): asserts payload is AccessTokenClaims {
  if (!isTime(payload.exp)) throw new TokenRejected('The access token has no expiry.');
  if (!isTime(payload.iat)) throw new TokenRejected('The access token has no issue time.');
  if (!isString(payload.jti)) throw new TokenRejected('The access token has no identifier.');
  if (!isString(payload.sub) || !isString(payload.client_id)) throw new TokenRejected('The access token names no client.');
  // RFC 9068 §2.2.3: scope is a space-delimited string; an array is not a ccgate token.
  if (typeof payload.scope !== 'string') throw new TokenRejected('The access token scope is not a string.');
  if (payload.scope !== '' && parseScope(payload.scope) === null) throw new TokenRejected('The access token scope is malformed.');
}

/**
 * The validation core shared by the local and the remote guard: header, signature by kid, iss, aud,
 * exp/nbf, claim shapes. Never fetches anything named by the token (jku, x5u, jwk are ignored).
 */
export class AccessTokenVerifier {
  private readonly algorithms: readonly SigningAlgorithm[];
  private readonly tolerance: number;
  private readonly maxLength: number;
  private readonly audiences: [string, ...string[]];
  private readonly cache: VerifiedTokenCache;

  constructor(private readonly keys: VerificationKeys, private readonly options: VerifierOptions) {
    this.algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
    for (const alg of this.algorithms) {
      if (!DEFAULT_ALGORITHMS.includes(alg)) throw new Error(`unsupported algorithm "${alg}"`);
    }
    this.tolerance = options.clockToleranceSeconds ?? 5;
    this.maxLength = options.maxTokenLength ?? 4096;
    const audiences = Array.isArray(options.audience) ? options.audience : [options.audience];
    if (audiences.length === 0 || !audiences.every(isString)) throw new Error('audience must name at least one audience');
    this.audiences = audiences as [string, ...string[]];
    this.cache = new VerifiedTokenCache(options.cache);
  }

  /** Verified claims, or a TokenRejected saying why not. */
  async verify(token: string): Promise<AccessTokenClaims> {
    const now = Date.now() / 1000;
    const cached = this.cache.get(token, now);
    if (cached) return cached;
    const claims = await this.verifyUncached(token);
    // Usable until exp (+ tolerance); a not-yet-valid token never gets here.
    this.cache.set(token, claims, claims.exp + this.tolerance);
    return claims;
  }

  /** For tests and metrics. */
  get cacheSize(): number {
    return this.cache.size;
  }

  private async verifyUncached(token: string): Promise<AccessTokenClaims> {
    if (token.length > this.maxLength) throw new TokenRejected('The access token is too long.');
    const header = readHeader(token);
    if (!header) throw new TokenRejected('The access token is not a JWT.');
    const alg = header.alg;
    if (typeof alg !== 'string' || !this.algorithms.includes(alg as SigningAlgorithm)) {
      throw new TokenRejected('The access token uses an algorithm that is not accepted.');
    }
    if (!isAccessTokenType(header.typ)) throw new TokenRejected('The token is not an access token (typ must be at+jwt).');
    // RFC 7515 §4.1.11: extensions listed in crit must be understood, and we understand none.
    if (header.crit !== undefined) throw new TokenRejected('The access token requires a header extension that is not supported.');
    if (!isString(header.kid)) throw new TokenRejected('The access token names no key.');
    const key = await this.keys.keyFor(header.kid);
    // The key's own algorithm must match the header's: no algorithm substitution.
    if (!key || key.alg !== alg) throw new TokenRejected('The access token was signed by an unknown key.');
    let payload: unknown;
    try {
      payload = jwt.verify(token, key.key, {
        algorithms: [key.alg],
        issuer: this.options.issuer,
        audience: this.audiences,
        clockTolerance: this.tolerance,
      });
    } catch (err) {
      throw new TokenRejected(describeJwtError(err));
    }
    if (typeof payload !== 'object' || payload === null) throw new TokenRejected('The access token has no claims.');
    assertClaimShapes(payload as Record<string, unknown>);
    return payload as AccessTokenClaims;
  }
}

function describeJwtError(err: unknown): string {
  if (err instanceof jwt.TokenExpiredError) return 'The access token expired.';
  if (err instanceof jwt.NotBeforeError) return 'The access token is not valid yet.';
  const message = err instanceof Error ? err.message : '';
  if (message.startsWith('jwt issuer invalid')) return 'The access token was issued by someone else.';
  if (message.startsWith('jwt audience invalid')) return 'The access token is meant for another audience.';
  if (message === 'invalid signature') return 'The access token signature is invalid.';
  return 'The access token is invalid.';
}
