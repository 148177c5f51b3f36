import type { RequestHandler } from 'express';
import { unauthorizedClient } from '../errors';
import type { Registry } from '../registry';
import type { AccessTokenValidator } from '../tokens';
import { clientOf, tokenParamOf } from './request-state';
import { liveClaims } from './token-lookup';

export interface RevocationConfig {
  registry: Registry;
  validator: AccessTokenValidator;
}

/**
 * RFC 7009 §2: after client authentication. token_type_hint is only a hint: a token not found as the
 * hinted type is looked for as every type we have (§2.1), so an access token sent with
 * `refresh_token` is revoked like any other. An invalid, expired or already revoked token is a 200
 * (§2.2). A live token of another client is refused (§2.1).
 */
export function revokeEndpoint(config: RevocationConfig): RequestHandler {
  return (_req, res, next) => {
    const caller = clientOf(res);
    liveClaims(config.validator, tokenParamOf(res))
      .then(async (claims) => {
        if (!claims) return;
        if (claims.client_id !== caller.clientId) throw unauthorizedClient('The token was not issued to this client.');
        const revocation = { jti: claims.jti, clientId: claims.client_id, expiresAt: claims.exp };
        await config.registry.revokeToken(revocation, { via: 'revocation_endpoint', requestId: res.locals.requestId });
      })
      .then(() => res.status(200).end(), next);
  };
}
