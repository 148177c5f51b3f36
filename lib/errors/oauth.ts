/**
 * OAuth errors: each knows its HTTP status, its JSON body (RFC 6749 §5.2) and, where the RFC asks
 * for one, its WWW-Authenticate challenge. Nothing here knows Express: `respondWithError` takes the
 * three response methods it needs.
 */

/**
 * Codes of RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2 (invalid_target), RFC 9449 §5
 * and §8 (invalid_dpop_proof, use_dpop_nonce) and RFC 6749 §4.1.2.1 (temporarily_unavailable).
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
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

export const invalidRequest = (description: string): TokenEndpointError => new TokenEndpointError(400, 'invalid_request', description);
export const unsupportedGrantType = (description: string): TokenEndpointError => new TokenEndpointError(400, 'unsupported_grant_type', description);
export const unauthorizedClient = (description: string): TokenEndpointError => new TokenEndpointError(400, 'unauthorized_client', description);
export const invalidScope = (description: string): TokenEndpointError => new TokenEndpointError(400, 'invalid_scope', description);
/** RFC 8707 §2: the requested resource is invalid, unknown, or not one this client may get a token for. */
export const invalidTarget = (description: string): TokenEndpointError => new TokenEndpointError(400, 'invalid_target', description);
/** RFC 9449 §5: the token request's DPoP proof is invalid (400). */
export const invalidDpopProof = (description: string): TokenEndpointError => new TokenEndpointError(400, 'invalid_dpop_proof', description);
/** RFC 9449 §8: the proof must carry the server's nonce, which DPoP-Nonce gives; the client retries with it (400). */
export const useDpopNonce = (nonce: string): TokenEndpointError =>
  new TokenEndpointError(400, 'use_dpop_nonce', 'The authorization server requires a nonce in the DPoP proof: use the one in DPoP-Nonce.', {
    'DPoP-Nonce': nonce,
  });
export const serverError = (description = 'The server could not complete the request.'): TokenEndpointError =>
  new TokenEndpointError(500, 'server_error', description);
export const temporarilyUnavailable = (description: string, retryAfterSeconds: number, status = 503): TokenEndpointError =>
  new TokenEndpointError(status, 'temporarily_unavailable', description, { 'Retry-After': String(retryAfterSeconds) });

/** RFC 7235 quoted-string: escape backslash and double quote; our texts never hold control chars. */
export function quote(value: string): string {
  return value.replace(/[\\"]/g, (ch) => `\\${ch}`);
}

/**
 * RFC 6749 §5.2: 401 with a challenge for the scheme the client used. We always answer 401 (also for
 * body credentials) so an unknown client, a wrong secret and a wrong method look the same.
 */
export const invalidClient = (realm: string, description = 'Client authentication failed.'): TokenEndpointError =>
  new TokenEndpointError(401, 'invalid_client', description, { 'WWW-Authenticate': `Basic realm="${quote(realm)}"` });

/**
 * Too many failed attempts from this address. RFC 6749 has no code for it; §5.2 says invalid_client
 * to a client that tried HTTP auth MUST be 401 with a challenge, so this is exactly that, plus
 * Retry-After (RFC 9110 §10.2.3) saying when this address may try again.
 */
export const throttledClient = (realm: string, retryAfterSeconds: number): TokenEndpointError =>
  new TokenEndpointError(401, 'invalid_client', 'Too many failed authentication attempts from this address; retry later.', {
    'WWW-Authenticate': `Basic realm="${quote(realm)}"`,
    'Retry-After': String(retryAfterSeconds),
  });

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
