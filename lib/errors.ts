/**
 * OAuth errors: one class per error code, each knowing its HTTP status, its JSON body
 * (RFC 6749 §5.2, RFC 6750 §3) and, where the RFC asks for one, its WWW-Authenticate challenge.
 * Nothing here knows Express: `respond` takes the two response methods it needs.
 */

/** Codes of RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1 and RFC 6749 §4.1.2.1 (temporarily_unavailable). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'unsupported_token_type'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'temporarily_unavailable'
  | 'server_error';

export interface OAuthErrorBody {
  error: OAuthErrorCode;
  error_description: string;
}

/** Base class. `code` null is RFC 6750 §3.1's "no authentication information": a bare challenge. */
export class OAuthError extends Error {
  readonly status: number;
  readonly code: OAuthErrorCode | null;
  /** Extra response headers (WWW-Authenticate, Retry-After, Allow). */
  readonly headers: Record<string, string>;
  /** Tells Express's default handler the message is safe to show. */
  readonly expose = true;

  constructor(status: number, code: OAuthErrorCode | null, description: string, headers: Record<string, string> = {}) {
    super(description);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  get statusCode(): number {
    return this.status;
  }

  toJSON(): OAuthErrorBody | Record<string, never> {
    return this.code === null ? {} : { error: this.code, error_description: this.message };
  }
}

// ---- Token, introspection and revocation endpoint errors (RFC 6749 §5.2) ----

/** RFC 6749 §5.2: every code is 400 but invalid_client, which is 401 when the client tried HTTP auth. */
export class TokenEndpointError extends OAuthError {}

export const invalidRequest = (description: string): TokenEndpointError =>
  new TokenEndpointError(400, 'invalid_request', description);
export const unsupportedGrantType = (description: string): TokenEndpointError =>
  new TokenEndpointError(400, 'unsupported_grant_type', description);
export const unauthorizedClient = (description: string): TokenEndpointError =>
  new TokenEndpointError(400, 'unauthorized_client', description);
export const invalidScope = (description: string): TokenEndpointError =>
  new TokenEndpointError(400, 'invalid_scope', description);
export const unsupportedTokenType = (description: string): TokenEndpointError =>
  new TokenEndpointError(400, 'unsupported_token_type', description);
export const serverError = (description = 'The server could not complete the request.'): TokenEndpointError =>
  new TokenEndpointError(500, 'server_error', description);
export const temporarilyUnavailable = (description: string, retryAfterSeconds: number, status = 503): TokenEndpointError =>
  new TokenEndpointError(status, 'temporarily_unavailable', description, { 'Retry-After': String(retryAfterSeconds) });

/**
 * Failed-authentication lockout. RFC 6749 has no code for it: we answer HTTP 429 (RFC 6585) with
 * Retry-After, and `invalid_client` as the OAuth code so standard clients treat it as an auth failure.
 */
export const tooManyFailedAttempts = (retryAfterSeconds: number): TokenEndpointError =>
  new TokenEndpointError(429, 'invalid_client', 'Too many failed authentication attempts; retry later.', {
    'Retry-After': String(retryAfterSeconds),
  });

/**
 * RFC 6749 §5.2: 401 with a challenge for the scheme the client used. We always answer 401 (also for
 * body credentials) so an unknown client, a wrong secret and a wrong method look the same.
 */
export const invalidClient = (realm: string, description = 'Client authentication failed.'): TokenEndpointError =>
  new TokenEndpointError(401, 'invalid_client', description, { 'WWW-Authenticate': `Basic realm="${quote(realm)}"` });

// ---- Bearer token errors (RFC 6750 §3) ----

export interface BearerChallenge {
  realm: string;
  /** Space-delimited scopes the resource needs (RFC 6750 §3 `scope` attribute). */
  scope?: string;
}

/** RFC 6750 §3: every bearer error carries `WWW-Authenticate: Bearer realm=..., error=...`. */
export class BearerError extends OAuthError {
  constructor(status: number, code: OAuthErrorCode | null, description: string, challenge: BearerChallenge) {
    super(status, code, description, { 'WWW-Authenticate': bearerChallenge(code, description, challenge) });
  }
}

/** RFC 6750 §3.1: no credentials at all: 401 and a challenge with no error code. */
export class MissingTokenError extends BearerError {
  constructor(challenge: BearerChallenge) {
    super(401, null, 'A bearer token is required.', challenge);
  }
}

/** RFC 6750 §3.1 invalid_request: 400. */
export class InvalidBearerRequestError extends BearerError {
  constructor(description: string, challenge: BearerChallenge) {
    super(400, 'invalid_request', description, challenge);
  }
}

/** RFC 6750 §3.1 invalid_token: 401. */
export class InvalidTokenError extends BearerError {
  constructor(description: string, challenge: BearerChallenge) {
    super(401, 'invalid_token', description, challenge);
  }
}

/** RFC 6750 §3.1 insufficient_scope: 403, with the scope the resource needs. */
export class InsufficientScopeError extends BearerError {
  constructor(description: string, challenge: BearerChallenge) {
    super(403, 'insufficient_scope', description, challenge);
  }
}

function bearerChallenge(code: OAuthErrorCode | null, description: string, c: BearerChallenge): string {
  const parts = [`realm="${quote(c.realm)}"`];
  if (code !== null) {
    parts.push(`error="${code}"`, `error_description="${quote(description)}"`);
    if (c.scope) parts.push(`scope="${quote(c.scope)}"`);
  }
  return `Bearer ${parts.join(', ')}`;
}

/** RFC 7235 quoted-string: escape backslash and double quote; our texts never hold control chars. */
function quote(value: string): string {
  return value.replace(/[\\"]/g, (ch) => `\\${ch}`);
}

/** The few response methods `respondWithError` needs (an Express Response satisfies it). */
export interface ErrorResponseSink {
  status(code: number): unknown;
  set(field: Record<string, string>): unknown;
  json(body: unknown): unknown;
}

/** Writes an OAuthError as its status, headers and JSON body. */
export function respondWithError(res: ErrorResponseSink, err: OAuthError): void {
  res.status(err.status);
  res.set(err.headers);
  res.json(err.toJSON());
}
