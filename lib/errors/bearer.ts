import { OAuthError, quote, type OAuthErrorCode } from './oauth';

/** Bearer token errors (RFC 6750 §3): one class per error code. */

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
