import type { RequestHandler } from 'express';
import type { AuditEvents } from '../events';
import type { AccessTokenClaims, AccessTokenValidator } from '../tokens';
import { boundJkt } from '../tokens/claims';
import { clientOf, tokenParamOf } from './request-state';
import { liveClaims } from './token-lookup';

export interface IntrospectionConfig {
  /** Accepts any audience: `isIssuedAudience` judges it. */
  validator: AccessTokenValidator;
  /** Whether this issuer gives tokens this `aud`: the configured audience or a registered resource (RFC 8707). */
  isIssuedAudience(aud: string): Promise<boolean>;
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
    liveClaims(config.validator, tokenParamOf(res))
      .then(async (claims) => (claims !== null && (await issuedAudience(config, claims.aud)) ? claims : null))
      .then((claims) => {
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
          ...tokenTypeOf(claims),
        });
      }, next);
  };
}

/** RFC 9449 §6.2: a DPoP-bound token is introspected with its confirmation (cnf.jkt) and type DPoP. */
function tokenTypeOf(claims: AccessTokenClaims): { token_type: 'Bearer' } | { cnf: { jkt: string }; token_type: 'DPoP' } {
  const jkt = boundJkt(claims);
  return jkt === null ? { token_type: 'Bearer' } : { cnf: { jkt }, token_type: 'DPoP' };
}

/** A token signed with our key but naming an audience we never issue for is no token of ours (RFC 9068 §4). */
async function issuedAudience(config: IntrospectionConfig, aud: string | string[]): Promise<boolean> {
  for (const one of Array.isArray(aud) ? aud : [aud]) if (typeof one === 'string' && (await config.isIssuedAudience(one))) return true;
  return false;
}
