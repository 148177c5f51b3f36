import { Router, type RequestHandler } from 'express';
import { unauthorizedClient } from '../errors';
import type { RegistryStore } from '../registry';
import type { AccessTokenValidator, Keyring, SigningAlgorithm } from '../tokens';
import { clientAuthentication } from './client-auth';
import type { AuditEvents } from '../events';
import { assignRequestId, formBody, methodNotAllowed, noStore, oauthErrorHandler, requireHttps, type ErrorHandlerOptions } from './http';
import { introspectEndpoint } from './introspect';
import { jwksEndpoint } from './jwks';
import { revokeEndpoint } from './revoke';
import type { SecretVerifier } from './secret-verifier';
import { checkGrantType, issueToken } from './token-endpoint';
import { requireTokenParam } from './token-lookup';
import type { FailureThrottle } from './throttle';
import { TokenSigner } from './token-signer';

export interface IssuerConfig extends ErrorHandlerOptions {
  store: RegistryStore;
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
  lockedDelayMs?: number;
  events: AuditEvents;
}

/** Introspection and revocation callers must be confidential clients that proved a secret. */
const requireConfidential: RequestHandler = (_req, res, next) => {
  const client = res.locals.client as { type: string };
  next(client.type === 'confidential' ? undefined : unauthorizedClient('Only confidential clients may use this endpoint.'));
};

/**
 * The issuer's Express router: POST /token, GET /jwks, POST /introspect, POST /revoke.
 * Mount it where `mountPath` says, e.g. app.use('/oauth', auth.tokenRouter()).
 */
export function createTokenRouter(config: IssuerConfig): Router {
  const router = Router();
  const signer = new TokenSigner(config);
  const form = formBody(config.maxBodyBytes);
  const authenticate = clientAuthentication({
    store: config.store,
    verifier: config.secretVerifier,
    realm: config.realm,
    throttle: config.throttle,
    lockedDelayMs: config.lockedDelayMs,
    events: config.events,
  });
  const transport: RequestHandler[] = config.requireHttps ? [requireHttps] : [];
  const post = (path: string, ...handlers: RequestHandler[]): void => {
    router.use(path, assignRequestId, noStore);
    router.post(path, ...transport, form, ...handlers);
    router.all(path, methodNotAllowed('POST'));
  };

  post('/token', checkGrantType, authenticate, issueToken({ signer, tokenLifetime: config.tokenLifetime, events: config.events }));
  post('/introspect', requireTokenParam, authenticate, requireConfidential, introspectEndpoint(config));
  post('/revoke', requireTokenParam, authenticate, requireConfidential, revokeEndpoint(config));
  router.get('/jwks', jwksEndpoint(config.keyring, config.jwksMaxAge));
  router.all('/jwks', methodNotAllowed('GET'));
  router.use(oauthErrorHandler(config));
  return router;
}
