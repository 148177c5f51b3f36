import type { RequestHandler } from 'express';
import { invalidRequest, OAuthError, unauthorizedClient, unsupportedGrantType } from '../errors';
import type { AuditEvents } from '../events';
import { formatScope } from '../scope';
import { clientOf, formOf } from './request-state';
import { resourceGrant, type Grant, type ResourceGrantConfig } from './resource-grant';
import type { TokenSigner } from './token-signer';

export const CLIENT_CREDENTIALS = 'client_credentials';

/** What res.type('application/json') sets, without its lookup. */
const JSON_TYPE = 'application/json; charset=utf-8';

/** RFC 6749 §4.4.2: grant_type is required and must be client_credentials. Checked before any bcrypt. */
export const checkGrantType: RequestHandler = (_req, res, next) => {
  const grantType = formOf(res).grant_type;
  if (grantType === undefined) return next(invalidRequest('The grant_type parameter is required.'));
  if (grantType !== CLIENT_CREDENTIALS) {
    return next(unsupportedGrantType('Only the client_credentials grant is supported.'));
  }
  next();
};

export interface TokenEndpointConfig {
  signer: TokenSigner;
  resources: ResourceGrantConfig;
  /** Default access token lifetime in seconds, when the client has none of its own. */
  tokenLifetime: number;
  events: AuditEvents;
}

/** RFC 6749 §4.4.3 / §5.1: runs after client authentication (and the DPoP proof's binding), answers the access token. */
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
    const form = formOf(res);
    const requested = form.scope;
    const refused = (err: unknown): void => {
      if (err instanceof OAuthError && (err.code === 'invalid_scope' || err.code === 'invalid_target')) {
        const shown = requested === undefined ? '' : requested.slice(0, 256);
        config.events.emit({ type: 'scope.denied', clientId: client.clientId, requested: shown, where: 'token_endpoint', requestId });
      }
      next(err);
    };
    const lifetime = client.tokenTtl ?? config.tokenLifetime;
    // RFC 9449 §6.1: a request that carried a verified proof gets a token bound to its key.
    const jkt = res.locals.dpop?.jkt;
    const issue = ({ scopes, audience }: Grant): Promise<void> =>
      config.signer.issue(client.clientId, scopes, lifetime, { audience, jkt }).then(({ token, claims }) => {
        config.events.emit({
          type: 'token.issued',
          clientId: client.clientId,
          scope: claims.scope,
          jti: claims.jti,
          expiresAt: claims.exp,
          ...(jkt === undefined ? {} : { jkt }),
          address: req.ip,
          requestId,
        });
        // RFC 6749 §4.4.3: no refresh token for client credentials. RFC 9449 §5: a bound token's type is DPoP.
        const body = { access_token: token, token_type: jkt === undefined ? 'Bearer' : 'DPoP', expires_in: lifetime, scope: formatScope(scopes) };
        // Written directly: res.json would also hash the body for an ETag, useless on a no-store answer.
        res.setHeader('Content-Type', JSON_TYPE);
        res.end(JSON.stringify(body));
      }, next);
    let grant: Grant | Promise<Grant>;
    try {
      grant = resourceGrant(config.resources, client, form.resource, requested);
    } catch (err) {
      return refused(err);
    }
    if (grant instanceof Promise) grant.then(issue, refused);
    else void issue(grant);
  };
}
