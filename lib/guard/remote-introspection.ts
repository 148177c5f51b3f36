import { basicAuthorization } from '../basic';
import { IssuerUnavailableError, TokenRejected } from '../errors';
import { VerifiedTokenCache, type AccessTokenClaims, type AccessTokenValidator } from '../tokens';
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
  timeoutMs: number;
  fetch: FetchLike;
}

/** RFC 7662 §2.2 answer -> our claims, checking it is a ccgate-style access token for us. */
function claimsFrom(answer: Record<string, unknown>, issuer: string, audiences: string[]): AccessTokenClaims {
  if (answer.active !== true) throw new TokenRejected('inactive', 'The access token is not active.');
  const { exp, iat, jti, client_id: clientId, sub, scope, iss, aud } = answer;
  if (iss !== undefined && iss !== issuer) throw new TokenRejected('wrong_issuer', 'The access token was issued by someone else.');
  const tokenAudiences: unknown[] = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
  if (!tokenAudiences.some((a) => typeof a === 'string' && audiences.includes(a))) {
    throw new TokenRejected('wrong_audience', 'The access token is meant for another audience.');
  }
  if (typeof exp !== 'number' || typeof clientId !== 'string' || typeof scope !== 'string') {
    throw new TokenRejected('malformed', 'The introspection answer lacks exp, client_id or scope.');
  }
  return {
    iss: issuer,
    sub: typeof sub === 'string' ? sub : clientId,
    aud: aud as string | string[],
    exp,
    iat: typeof iat === 'number' ? iat : 0,
    jti: typeof jti === 'string' ? jti : '',
    client_id: clientId,
    scope,
  };
}

/**
 * Asks the issuer (RFC 7662) about each token; positive answers are reused for a short while, so a
 * revocation is seen within `cacheSeconds`. The issuer being unreachable is a 503, not a 401.
 */
export class IntrospectionValidator implements AccessTokenValidator {
  private endpoint: string | undefined;
  private readonly cache: VerifiedTokenCache;
  private readonly cacheSeconds: number;
  private readonly audiences: string[];
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;
  private readonly authorization: string;

  constructor(private readonly options: IntrospectionOptions) {
    this.endpoint = options.introspectionEndpoint;
    this.cacheSeconds = options.cacheSeconds;
    this.cache = new VerifiedTokenCache({ maxEntries: this.cacheSeconds > 0 ? 10_000 : 0 });
    this.audiences = Array.isArray(options.audience) ? options.audience : [options.audience];
    this.fetchImpl = options.fetch;
    this.timeoutMs = options.timeoutMs;
    this.authorization = basicAuthorization(options.clientId, options.clientSecret);
  }

  async validate(token: string): Promise<AccessTokenClaims> {
    const now = Date.now() / 1000;
    const cached = this.cache.get(token, now);
    if (cached) return cached;
    this.endpoint ??= (await discover(this.fetchImpl, this.options.issuer, this.timeoutMs)).introspectionEndpoint;
    if (!this.endpoint) throw new IssuerUnavailableError('the issuer metadata has no introspection_endpoint');
    const answer = await fetchJson(this.fetchImpl, this.endpoint, this.timeoutMs, {
      method: 'POST',
      headers: { Authorization: this.authorization, 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    });
    const claims = claimsFrom(answer, this.options.issuer, this.audiences);
    if (claims.exp <= now) throw new TokenRejected('expired', 'The access token expired.');
    this.cache.set(token, claims, Math.min(claims.exp, now + this.cacheSeconds));
    return claims;
  }
}
