import { Router, type RequestHandler } from 'express';
import { unauthorizedClient } from '../errors';
import type { AuditEvents } from '../events';
import type { Registry } from '../registry';
import type { AccessTokenValidator, Keyring, SigningAlgorithm } from '../tokens';
import { clientAuthentication } from './client-auth';
import { assignRequestId, formBody, methodNotAllowed, noStore, oauthErrorHandler, requireHttps, type ErrorHandlerOptions } from './http';
import { introspectEndpoint } from './introspect';
import { jwksEndpoint } from './jwks';
import { revokeEndpoint } from './revoke';
import type { SecretVerifier } from './secret-verifier';
import { clientOf } from './request-state';
import type { FailureThrottle } from './throttle';
import { checkGrantType, issueToken } from './token-endpoint';
import { requireTokenParam } from './token-lookup';
import { TokenSigner } from './token-signer';

export interface IssuerConfig extends ErrorHandlerOptions {
  registry: Registry;
  keyring: Keyring;
  secretVerifier: SecretVerifier;
  /** Validates presented tokens (introspection, revocation): the same core the guard uses. */
  validator: AccessTokenValidator;
  issuer: string;
  audience: string | string[];
  algorithm: SigningAlgorithm;
  tokenLifetime: number;
  realm: string;
  maxBodyBytes: number;
  jwksMaxAge: number;
  introspectScope: string;
  /** Refuse plain HTTP on the token, introspection and revocation endpoints. */
  requireHttps: boolean;
  throttle?: FailureThrottle;
  lockedDelayMs: number;
  events: AuditEvents;
}

/** Introspection and revocation callers must be confidential clients that proved a secret. */
const requireConfidential: RequestHandler = (_req, res, next) => {
  next(clientOf(res).type === 'confidential' ? undefined : unauthorizedClient('Only confidential clients may use this endpoint.'));
};

/**
 * The issuer's Express router: POST /token, GET /jwks, POST /introspect, POST /revoke.
 * Mount it where `mountPath` says, e.g. app.use('/oauth', auth.tokenRouter()).
 */
export function createTokenRouter(config: IssuerConfig): Router {
  const router = Router();
  const { registry, keyring, validator, events } = config;
  const signer = new TokenSigner({ registry, keyring, issuer: config.issuer, audience: config.audience, algorithm: config.algorithm });
  const form = formBody(config.maxBodyBytes);
  const authenticate = clientAuthentication({
    registry,
    verifier: config.secretVerifier,
    realm: config.realm,
    throttle: config.throttle,
    lockedDelayMs: config.lockedDelayMs,
    events,
  });
  const transport: RequestHandler[] = config.requireHttps ? [requireHttps] : [];
  const post = (path: string, ...handlers: RequestHandler[]): void => {
    router.use(path, assignRequestId, noStore);
    router.post(path, ...transport, form, ...handlers);
    router.all(path, methodNotAllowed('POST'));
  };

  post('/token', checkGrantType, authenticate, issueToken({ signer, tokenLifetime: config.tokenLifetime, events }));
  post('/introspect', requireTokenParam, authenticate, requireConfidential, introspectEndpoint({ validator, introspectScope: config.introspectScope, events }));
  post('/revoke', requireTokenParam, authenticate, requireConfidential, revokeEndpoint({ registry, validator }));
  router.get('/jwks', jwksEndpoint(keyring, config.jwksMaxAge));
  router.all('/jwks', methodNotAllowed('GET'));
  router.use(oauthErrorHandler({ onServerError: config.onServerError }));
  return router;
}
