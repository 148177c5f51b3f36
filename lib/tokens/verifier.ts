import { DEFAULTS } from '../defaults';
import { ConfigurationError, TokenRejected, type RejectionReason } from '../errors';
import type { CacheTelemetry } from '../metrics/telemetry';
import { parseScope } from '../scope';
import { ACCESS_TOKEN_TYP, boundJkt, MAX_TOKEN_LIFETIME_SECONDS, type AccessTokenClaims } from './claims';
import type { SigningAlgorithm } from './jwk';
import { verifyJws, type JwsFailure } from './jws';
import type { VerificationKeys } from './keyring';
import { scopesOf, VerifiedTokenCache, type VerifiedCacheOptions, type VerifiedToken } from './verified-cache';

export interface VerifierOptions {
  /** Expected `iss`, compared exactly (RFC 9068 §4). */
  issuer: string;
  /**
   * Accepted audience(s): the token's `aud` must contain one (RFC 9068 §4). ANY_AUDIENCE: whatever
   * the token names, for the issuer's own introspection and revocation, which judge every token they
   * issued, whichever resource it is for (RFC 8707).
   */
  audience: string | string[] | typeof ANY_AUDIENCE;
  /** Signature algorithms accepted (default RS256 and ES256; `none` and HMAC are never accepted). */
  algorithms?: SigningAlgorithm[];
  /** Seconds of clock skew allowed on exp / nbf / iat (default 5). */
  clockToleranceSeconds?: number;
  /** Longest token accepted, in characters (default 4096). */
  maxTokenLength?: number;
  /** Cache of verified tokens; `{ maxEntries: 0 }` disables it. */
  cache?: VerifiedCacheOptions;
  /** Where the cache's hits and misses are counted; default nowhere. */
  cacheTelemetry?: CacheTelemetry;
}

/** VerifierOptions.audience that accepts every audience (the issuer's own endpoints only). */
export const ANY_AUDIENCE: unique symbol = Symbol('any audience');

export const DEFAULT_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];

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
  const malformed = (message: string): TokenRejected => new TokenRejected('malformed', message);
  if (!isTime(payload.exp)) throw malformed('The access token has no expiry.');
  if (!isTime(payload.iat)) throw malformed('The access token has no issue time.');
  if (!isString(payload.jti)) throw malformed('The access token has no identifier.');
  if (!isString(payload.sub) || !isString(payload.client_id)) throw malformed('The access token names no client.');
  // RFC 9068 §2.2.3: scope is a space-delimited string; an array is not a ccgate token.
  if (typeof payload.scope !== 'string') throw malformed('The access token scope is not a string.');
  if (payload.scope !== '' && parseScope(payload.scope) === null) throw malformed('The access token scope is malformed.');
  // RFC 7800 / RFC 9449 §6.1: a confirmation we cannot check (no usable jkt) must not pass as a bearer token.
  if (payload.cnf !== undefined && !hasUsableJkt(payload.cnf)) throw malformed('The access token is bound by a confirmation method that is not supported.');
}

/** `cnf` naming a DPoP key thumbprint (RFC 9449 §6.1). */
export function hasUsableJkt(cnf: unknown): boolean {
  return boundJkt({ cnf } as AccessTokenClaims) !== null;
}

/** RFC 9068 §4: `iss` exactly the issuer, `aud` naming one of our audiences (a string or an array). */
function assertIssuerAndAudience(payload: Record<string, unknown>, issuer: string, audiences: readonly string[] | null): void {
  if (payload.iss !== issuer) throw new TokenRejected('wrong_issuer', 'The access token was issued by someone else.');
  const named: unknown[] = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!named.some((a) => typeof a === 'string' && (audiences === null || audiences.includes(a)))) {
    throw new TokenRejected('wrong_audience', 'The access token is meant for another audience.');
  }
}

/**
 * A token's lifetime must fit an issuer's maximum (MAX_TOKEN_LIFETIME_SECONDS): a key leak, or a
 * misbehaving issuer, cannot mint tokens that live for years. `iat` in the future (beyond the clock
 * tolerance) would stretch that, so it is refused too (RFC 7519 §4.1.6: the time of issue). Without
 * `iat` (an introspection answer may omit it), exp may lie at most the maximum ahead.
 */
export function assertLifetime(exp: number, iat: number | undefined, now: number, toleranceSeconds: number): void {
  const tooLong = (): TokenRejected =>
    new TokenRejected('lifetime_too_long', `The access token lives longer than the ${MAX_TOKEN_LIFETIME_SECONDS} seconds an issuer may give.`);
  if (iat === undefined) {
    if (exp - now > MAX_TOKEN_LIFETIME_SECONDS + toleranceSeconds) throw tooLong();
    return;
  }
  if (iat > now + toleranceSeconds) throw new TokenRejected('not_yet_valid', 'The access token was issued in the future.');
  if (exp - iat > MAX_TOKEN_LIFETIME_SECONDS) throw tooLong();
}

/** What the caller is told for each refusal of the JWS core: the access token's reason and message. */
const REFUSALS: Record<JwsFailure, [RejectionReason, string]> = {
  too_long: ['too_long', 'The access token is too long.'],
  not_jws: ['malformed', 'The access token is not a JWT.'],
  unsupported_algorithm: ['unsupported_algorithm', 'The access token uses an algorithm that is not accepted.'],
  wrong_type: ['wrong_type', 'The token is not an access token (typ must be at+jwt).'],
  // RFC 7515 §4.1.11: extensions listed in crit must be understood, and we understand none.
  unsupported_extension: ['unsupported_extension', 'The access token requires a header extension that is not supported.'],
  no_kid: ['malformed', 'The access token names no key.'],
  unknown_key: ['unknown_key', 'The access token was signed by an unknown key.'],
  bad_signature: ['bad_signature', 'The access token signature is invalid.'],
  expired: ['expired', 'The access token expired.'],
  not_yet_valid: ['not_yet_valid', 'The access token is not valid yet.'],
  malformed: ['malformed', 'The access token is invalid.'],
  no_claims: ['malformed', 'The access token has no claims.'],
};

/**
 * The validation shared by the local and the remote guard: the JWS core (header, typ at+jwt,
 * signature by kid, exp/nbf), then iss, aud, claim shapes and lifetime. Never fetches anything named
 * by the token (jku, x5u, jwk are ignored).
 */
export class AccessTokenVerifier {
  private readonly algorithms: readonly SigningAlgorithm[];
  private readonly tolerance: number;
  private readonly maxLength: number;
  /** null: any audience (ANY_AUDIENCE). */
  private readonly audiences: [string, ...string[]] | null;
  private readonly cache: VerifiedTokenCache;

  constructor(
    private readonly keys: VerificationKeys,
    private readonly options: VerifierOptions,
  ) {
    this.algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
    for (const alg of this.algorithms) {
      if (!DEFAULT_ALGORITHMS.includes(alg)) throw new ConfigurationError('algorithms', `unsupported algorithm "${String(alg)}"`);
    }
    this.tolerance = options.clockToleranceSeconds ?? DEFAULTS.clockToleranceSeconds;
    this.maxLength = options.maxTokenLength ?? DEFAULTS.maxTokenLength;
    this.audiences = options.audience === ANY_AUDIENCE ? null : checkedAudiences(options.audience);
    this.cache = new VerifiedTokenCache(options.cache);
  }

  /** Verified claims, or a TokenRejected saying why not. */
  async verify(token: string): Promise<AccessTokenClaims> {
    return (await this.verifyToken(token)).claims;
  }

  /** verify(), with what the guard reads of the claims on every request (the split scope) parsed once. */
  async verifyToken(token: string): Promise<VerifiedToken> {
    const now = Date.now() / 1000;
    const cached = this.cache.lookup(token, now);
    this.options.cacheTelemetry?.lookup(cached !== undefined);
    // A cached token stands only while its key is published: a revoked key's tokens fail at once.
    if (cached && (cached.kid === undefined || (this.keys.knownKey?.(cached.kid) ?? (await this.keys.keyFor(cached.kid))))) return cached;
    if (cached) this.cache.forget(token);
    const { claims, kid } = await this.verifyUncached(token, now);
    // Usable until exp (+ tolerance); a not-yet-valid token never gets here.
    this.cache.set(token, claims, claims.exp + this.tolerance, kid);
    return { claims, kid, scopes: scopesOf(claims) };
  }

  /**
   * Synchronous, no I/O: the verified token when the cache holds it (unexpired) and its key is known
   * to be still published without asking the key source; undefined otherwise, which only means "call
   * verifyToken". Nothing is counted here: a caller that uses the answer calls countKnownHit(), one
   * that does not calls verifyToken, which counts the lookup (each lookup is counted once).
   */
  known(token: string): VerifiedToken | undefined {
    const cached = this.cache.lookup(token, Date.now() / 1000);
    if (cached === undefined) return undefined;
    if (cached.kid !== undefined && (this.keys.knownKey === undefined || this.keys.knownKey(cached.kid) === undefined)) return undefined;
    return cached;
  }

  /** Counts a cache hit answered by known(). */
  countKnownHit(): void {
    this.options.cacheTelemetry?.lookup(true);
  }

  /** Test hook: how many verified tokens the cache holds. */
  get cacheSize(): number {
    return this.cache.size;
  }

  private async verifyUncached(token: string, now: number): Promise<{ claims: AccessTokenClaims; kid: string }> {
    const verified = await verifyJws(token, {
      algorithms: this.algorithms,
      maxLength: this.maxLength,
      typ: isAccessTokenType,
      requireKid: true,
      // kid is always there (requireKid). A key held and current is handed over without a Promise.
      keyFor: (kid) => (kid === undefined ? undefined : (this.keys.knownKey?.(kid) ?? this.keys.keyFor(kid))),
      clockToleranceSeconds: this.tolerance,
    });
    if (!verified.ok) throw new TokenRejected(...REFUSALS[verified.failure]);
    const claims = verified.payload;
    assertIssuerAndAudience(claims, this.options.issuer, this.audiences);
    assertClaimShapes(claims);
    assertLifetime(claims.exp, claims.iat, now, this.tolerance);
    return { claims, kid: verified.key.kid };
  }
}

function checkedAudiences(audience: string | string[]): [string, ...string[]] {
  const audiences = Array.isArray(audience) ? audience : [audience];
  if (audiences.length === 0 || !audiences.every(isString)) throw new ConfigurationError('audience', 'audience must name at least one audience');
  return audiences as [string, ...string[]];
}
