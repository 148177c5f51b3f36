import { createHash } from 'node:crypto';
import { basicAuthorization } from '../basic';
import { setBounded } from '../bounded-map';
import { IssuerUnavailableError, TokenRejected } from '../errors';
import { DEFAULTS } from '../defaults';
import { assertLifetime, VerifiedTokenCache, type AccessTokenClaims, type AccessTokenValidator } from '../tokens';
import { hasUsableJkt } from '../tokens/verifier';
import { discover, fetchJson, type FetchLike } from './http-json';

export interface IntrospectionOptions {
  issuer: string;
  audience: string | string[];
  /** This service's own client credentials at the issuer (it needs the introspection scope). */
  clientId: string;
  clientSecret: string;
  /** Introspection endpoint; undefined: discovered from the issuer's metadata. */
  introspectionEndpoint?: string;
  /** Seconds a positive answer is reused (never past the token's exp; 0 = ask every time). */
  cacheSeconds: number;
  /** Seconds an inactive answer is reused (0 = ask every time). */
  negativeCacheSeconds: number;
  /** Longest token sent to the issuer; longer ones are refused here, with no network call. */
  maxTokenLength: number;
  timeoutMs: number;
  fetch: FetchLike;
}

/** RFC 7662 §2.2 answer -> our claims, checking it is a ccgate-style access token for us (and not too long-lived). */
function claimsFrom(answer: Record<string, unknown>, issuer: string, audiences: string[], now: number): AccessTokenClaims {
  if (answer.active !== true) throw new TokenRejected('inactive', 'The access token is not active.');
  const { exp, iat, jti, client_id: clientId, sub, scope, iss, aud, cnf } = answer;
  if (iss !== undefined && iss !== issuer) throw new TokenRejected('wrong_issuer', 'The access token was issued by someone else.');
  const tokenAudiences: unknown[] = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
  if (!tokenAudiences.some((a) => typeof a === 'string' && audiences.includes(a))) {
    throw new TokenRejected('wrong_audience', 'The access token is meant for another audience.');
  }
  if (typeof exp !== 'number' || typeof clientId !== 'string' || typeof scope !== 'string') {
    throw new TokenRejected('malformed', 'The introspection answer lacks exp, client_id or scope.');
  }
  assertLifetime(exp, typeof iat === 'number' ? iat : undefined, now, DEFAULTS.clockToleranceSeconds);
  return {
    iss: issuer,
    sub: typeof sub === 'string' ? sub : clientId,
    aud: aud as string | string[],
    exp,
    iat: typeof iat === 'number' ? iat : 0,
    jti: typeof jti === 'string' ? jti : '',
    client_id: clientId,
    scope,
    // RFC 9449 §6.2: the key a DPoP-bound token is bound to, for the guard's proof check.
    ...(cnf === undefined ? {} : { cnf: confirmation(cnf) }),
  };
}

/** A confirmation we cannot check must not pass as a bearer token (RFC 9449 §6.2). */
function confirmation(cnf: unknown): { jkt: string } {
  if (!hasUsableJkt(cnf)) throw new TokenRejected('malformed', 'The access token is bound by a confirmation method that is not supported.');
  return { jkt: (cnf as { jkt: string }).jkt };
}

/**
 * Asks the issuer (RFC 7662) about each token; positive answers are reused for a short while, so a
 * revocation is seen within `cacheSeconds`. The issuer being unreachable is a 503, not a 401.
 */
export class IntrospectionValidator implements AccessTokenValidator {
  /** The introspection endpoint, configured or being discovered: concurrent first requests share one discovery. */
  private endpoint: Promise<string> | undefined;
  private readonly cache: VerifiedTokenCache;
  /** Inactive answers by a hash of the token: a garbage token repeated costs one call to the issuer per period. */
  private readonly inactive = new Map<string, { rejection: TokenRejected; until: number }>();
  private readonly cacheSeconds: number;
  private readonly audiences: string[];
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;
  private readonly authorization: string;

  constructor(private readonly options: IntrospectionOptions) {
    if (options.introspectionEndpoint !== undefined) this.endpoint = Promise.resolve(options.introspectionEndpoint);
    this.cacheSeconds = options.cacheSeconds;
    this.cache = new VerifiedTokenCache({ maxEntries: this.cacheSeconds > 0 ? 10_000 : 0 });
    this.audiences = Array.isArray(options.audience) ? options.audience : [options.audience];
    this.fetchImpl = options.fetch;
    this.timeoutMs = options.timeoutMs;
    this.authorization = basicAuthorization(options.clientId, options.clientSecret);
  }

  async validate(token: string): Promise<AccessTokenClaims> {
    // The same limits as the JWKS mode, before any network call.
    if (token.length > this.options.maxTokenLength) throw new TokenRejected('too_long', 'The access token is too long.');
    const now = Date.now() / 1000;
    const cached = this.cache.get(token, now);
    if (cached) return cached;
    const key = createHash('sha256').update(token).digest('base64url');
    const refused = this.inactive.get(key);
    if (refused && refused.until > now) throw refused.rejection;
    const answer = await fetchJson(this.fetchImpl, await this.introspectionEndpoint(), this.timeoutMs, {
      method: 'POST',
      headers: { Authorization: this.authorization, 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    });
    let claims: AccessTokenClaims;
    try {
      claims = claimsFrom(answer, this.options.issuer, this.audiences, now);
      if (claims.exp <= now) throw new TokenRejected('expired', 'The access token expired.');
    } catch (err) {
      if (err instanceof TokenRejected && this.options.negativeCacheSeconds > 0) {
        setBounded(this.inactive, key, { rejection: err, until: now + this.options.negativeCacheSeconds }, MAX_INACTIVE);
      }
      throw err;
    }
    this.cache.set(token, claims, Math.min(claims.exp, now + this.cacheSeconds));
    return claims;
  }

  private introspectionEndpoint(): Promise<string> {
    if (this.endpoint) return this.endpoint;
    const discovery = discover(this.fetchImpl, this.options.issuer, this.timeoutMs).then((metadata) => {
      if (!metadata.introspectionEndpoint) throw new IssuerUnavailableError('the issuer metadata has no introspection_endpoint', 'bad_answer');
      return metadata.introspectionEndpoint;
    });
    // A failed discovery is not remembered: the next request tries again.
    discovery.catch(() => {
      if (this.endpoint === discovery) this.endpoint = undefined;
    });
    this.endpoint = discovery;
    return discovery;
  }
}

/** Inactive answers remembered at most (the oldest go first). */
const MAX_INACTIVE = 10_000;
