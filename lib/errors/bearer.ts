import { OAuthError, quote, type OAuthErrorCode } from './oauth';

/** Bearer token errors (RFC 6750 §3): one class per error code. */

/** The HTTP authentication schemes of an access token: RFC 6750's Bearer and RFC 9449's DPoP. */
export type TokenScheme = 'Bearer' | 'DPoP';

export interface BearerChallenge {
  realm: string;
  /** Space-delimited scopes the resource needs (RFC 6750 §3 `scope` attribute). */
  scope?: string;
  /** The schemes this resource accepts, one challenge each, in this order (default Bearer only). */
  schemes?: readonly TokenScheme[];
  /** RFC 9449 §7.1: the DPoP challenge's `algs`, the proof algorithms accepted. */
  dpopAlgs?: readonly string[];
  /** RFC 9728 §5.1: where this resource's protected resource metadata is. */
  resourceMetadata?: string;
  /** The scheme the request used: its challenge carries the error (default the first scheme). */
  used?: TokenScheme;
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

/** RFC 9449 §7.1 invalid_dpop_proof: 401, in the DPoP challenge. */
export class InvalidDpopProofError extends BearerError {
  constructor(description: string, challenge: BearerChallenge) {
    super(401, 'invalid_dpop_proof', description, { ...challenge, used: 'DPoP' });
  }
}

/** RFC 9449 §9: the resource server wants a proof carrying its nonce: 401 use_dpop_nonce and the nonce in DPoP-Nonce. */
export class UseDpopNonceError extends BearerError {
  constructor(nonce: string, challenge: BearerChallenge) {
    super(401, 'use_dpop_nonce', 'This resource requires a nonce in the DPoP proof: use the one in DPoP-Nonce.', { ...challenge, used: 'DPoP' });
    this.headers['DPoP-Nonce'] = nonce;
  }
}

/** RFC 6750 §3.1 insufficient_scope: 403, with the scope the resource needs. */
export class InsufficientScopeError extends BearerError {
  constructor(description: string, challenge: BearerChallenge) {
    super(403, 'insufficient_scope', description, challenge);
  }
}

/** RFC 7235 §4.1: one challenge per accepted scheme, comma-separated; the error goes in the one the request used. */
function bearerChallenge(code: OAuthErrorCode | null, description: string, c: BearerChallenge): string {
  const schemes = c.schemes ?? ['Bearer'];
  const used = c.used ?? schemes[0];
  return schemes.map((scheme) => challengeFor(scheme, scheme === used ? code : null, description, c)).join(', ');
}

function challengeFor(scheme: TokenScheme, code: OAuthErrorCode | null, description: string, c: BearerChallenge): string {
  const parts = [`realm="${quote(c.realm)}"`];
  if (code !== null) {
    parts.push(`error="${code}"`, `error_description="${quote(description)}"`);
    if (c.scope) parts.push(`scope="${quote(c.scope)}"`);
  }
  if (scheme === 'DPoP' && c.dpopAlgs) parts.push(`algs="${c.dpopAlgs.join(' ')}"`);
  if (c.resourceMetadata) parts.push(`resource_metadata="${quote(c.resourceMetadata)}"`);
  return `${scheme} ${parts.join(', ')}`;
}
