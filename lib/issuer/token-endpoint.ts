import type { RequestHandler } from 'express';
import { invalidRequest, invalidScope, unauthorizedClient, unsupportedGrantType } from '../errors';
import type { AuditEvents } from '../events';
import { formatScope, parseScope } from '../scope';
import { clientOf, formOf } from './request-state';
import type { TokenSigner } from './token-signer';

export const CLIENT_CREDENTIALS = 'client_credentials';
/** Bounds on the scope parameter: generous for real use, small enough to parse cheaply. */
export const MAX_SCOPE_PARAM_LENGTH = 2048;
export const MAX_SCOPES = 64;

/** RFC 6749 §4.4.2: grant_type is required and must be client_credentials. Checked before any bcrypt. */
export const checkGrantType: RequestHandler = (_req, res, next) => {
  const grantType = formOf(res).grant_type;
  if (grantType === undefined) return next(invalidRequest('The grant_type parameter is required.'));
  if (grantType !== CLIENT_CREDENTIALS) {
    return next(unsupportedGrantType('Only the client_credentials grant is supported.'));
  }
  next();
};

/**
 * RFC 6749 §3.3: every requested scope must be allowed to the client. With no scope parameter the
 * client gets all its allowed scopes (our documented default, §3.3 "pre-defined default value").
 */
export function grantedScopes(requested: string | undefined, allowed: string[]): string[] {
  if (requested !== undefined && requested.length > MAX_SCOPE_PARAM_LENGTH) {
    throw invalidScope(`The scope parameter is longer than ${MAX_SCOPE_PARAM_LENGTH} characters.`);
  }
  if (requested === undefined) {
    if (allowed.length === 0) throw invalidScope('This client is allowed no scope.');
    return allowed;
  }
  const scopes = parseScope(requested);
  if (scopes === null) throw invalidScope('The scope parameter is malformed (RFC 6749 section 3.3).');
  if (scopes.length > MAX_SCOPES) throw invalidScope(`At most ${MAX_SCOPES} scopes may be requested.`);
  const allowedSet = new Set(allowed);
  const refused = scopes.filter((s) => !allowedSet.has(s));
  if (refused.length > 0) throw invalidScope('The requested scope exceeds what this client is allowed.');
  return scopes;
}

export interface TokenEndpointConfig {
  signer: TokenSigner;
  /** Default access token lifetime in seconds, when the client has none of its own. */
  tokenLifetime: number;
  events: AuditEvents;
}

/** RFC 6749 §4.4.3 / §5.1: runs after client authentication, answers the access token. */
export function issueToken(config: TokenEndpointConfig): RequestHandler {
  return (req, res, next) => {
    const client = clientOf(res);
    if (client.type !== 'confidential') {
      return next(unauthorizedClient('Only confidential clients may use the client_credentials grant (RFC 6749 section 4.4).'));
    }
    if (!client.grantTypes.includes(CLIENT_CREDENTIALS)) {
      return next(unauthorizedClient('This client is not allowed the client_credentials grant.'));
    }
    const requestId = res.locals.requestId;
    const requested = formOf(res).scope;
    let scopes: string[];
    try {
      scopes = grantedScopes(requested, client.scopes);
    } catch (err) {
      const shown = requested === undefined ? '' : requested.slice(0, 256);
      config.events.emit({ type: 'scope.denied', clientId: client.clientId, requested: shown, where: 'token_endpoint', requestId });
      return next(err);
    }
    const lifetime = client.tokenTtl ?? config.tokenLifetime;
    config.signer.issue(client.clientId, scopes, lifetime).then(({ token, claims }) => {
      config.events.emit({
        type: 'token.issued',
        clientId: client.clientId,
        scope: claims.scope,
        jti: claims.jti,
        expiresAt: claims.exp,
        address: req.ip,
        requestId,
      });
      // RFC 6749 §4.4.3: no refresh token for client credentials.
      const body = { access_token: token, token_type: 'Bearer', expires_in: lifetime, scope: formatScope(scopes) };
      // Written directly: res.json would also hash the body for an ETag, useless on a no-store answer.
      res.type('application/json').end(JSON.stringify(body));
    }, next);
  };
}
