import type { RequestHandler } from 'express';
import { unauthorizedClient, unsupportedTokenType } from '../errors';
import type { Registry } from '../registry';
import type { AccessTokenValidator } from '../tokens';
import { clientOf, formOf, tokenParamOf } from './request-state';
import { liveClaims } from './token-lookup';

export interface RevocationConfig {
  registry: Registry;
  validator: AccessTokenValidator;
}

/**
 * RFC 7009 §2: after client authentication. We issue no refresh tokens, so that hint is
 * unsupported_token_type (§2.2.1); other hints are only hints. An invalid, expired or already
 * revoked token is a 200 (§2.2). A live token of another client is refused (§2.1).
 */
export function revokeEndpoint(config: RevocationConfig): RequestHandler {
  return (_req, res, next) => {
    if (formOf(res).token_type_hint === 'refresh_token') {
      return next(unsupportedTokenType('This server issues no refresh tokens.'));
    }
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
