import type { RequestHandler } from 'express';
import type { AuditEvents } from '../events';
import type { AccessTokenValidator } from '../tokens';
import { clientOf, tokenParamOf } from './request-state';
import { liveClaims } from './token-lookup';

export interface IntrospectionConfig {
  validator: AccessTokenValidator;
  /** Scope that lets a client introspect other clients' tokens (a resource server's). */
  introspectScope: string;
  events: AuditEvents;
}

/**
 * RFC 7662 §2: after client authentication. A client may introspect its own tokens; others' only
 * with the introspection scope. Anything not valid now, or not the caller's business, is
 * `{active: false}` with no other detail (§2.2).
 */
export function introspectEndpoint(config: IntrospectionConfig): RequestHandler {
  return (_req, res, next) => {
    const caller = clientOf(res);
    liveClaims(config.validator, tokenParamOf(res)).then((claims) => {
      const allowed = claims !== null && (claims.client_id === caller.clientId || caller.scopes.includes(config.introspectScope));
      config.events.emit({
        type: 'token.introspected',
        callerId: caller.clientId,
        active: allowed,
        jti: allowed ? claims.jti : undefined,
        requestId: res.locals.requestId,
      });
      if (!claims || !allowed) return void res.json({ active: false });
      res.json({
        active: true,
        scope: claims.scope,
        client_id: claims.client_id,
        sub: claims.sub,
        aud: claims.aud,
        iss: claims.iss,
        exp: claims.exp,
        iat: claims.iat,
        ...(claims.nbf !== undefined ? { nbf: claims.nbf } : {}),
        jti: claims.jti,
        token_type: 'Bearer',
      });
    }, next);
  };
}
