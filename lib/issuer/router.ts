import { Router, type RequestHandler } from 'express';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { unauthorizedClient } from '../errors';
import type { AuditEvents } from '../events';
import { timeRequests } from '../metrics/latency';
import type { IssuerTelemetry } from '../metrics/telemetry';
import type { Registry } from '../registry';
import type { AccessTokenValidator, Keyring, SigningAlgorithm } from '../tokens';
import { clientAuthentication } from './client-auth';
import { clientRateLimit } from './client-rate-limit';
import { ClientVerification } from './client-verification';
import { assignRequestId, formBody, methodNotAllowed, noStore, oauthErrorHandler, requireHttps, type ErrorHandlerOptions } from './http';
import { introspectEndpoint } from './introspect';
import { jwksEndpoint } from './jwks';
import { afterKeyMade } from './key-warmup';
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
  /** Longest token the guards read: the token endpoint never issues a longer one. */
  maxTokenLength: number;
  jwksMaxAge: number;
  introspectScope: string;
  /** Refuse plain HTTP on the token, introspection and revocation endpoints. */
  requireHttps: boolean;
  throttle?: FailureThrottle;
  /** Per-client limits of introspection and revocation calls; none: unlimited. */
  introspectionLimiter?: RateLimiterAbstract;
  revocationLimiter?: RateLimiterAbstract;
  lockedDelayMs: number;
  events: AuditEvents;
  /** Where the token endpoint's latency is reported; default nowhere. */
  telemetry?: IssuerTelemetry;
  /** Resolves once the signing key made at startup exists (or its making failed): the JWKS waits for it. */
  signingKeyMade?: () => Promise<void>;
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
  const signer = new TokenSigner({
    registry,
    keyring,
    issuer: config.issuer,
    audience: config.audience,
    algorithm: config.algorithm,
    maxTokenLength: config.maxTokenLength,
  });
  const form = formBody(config.maxBodyBytes);
  const verification = new ClientVerification({ registry, secrets: config.secretVerifier, throttle: config.throttle });
  const authenticate = clientAuthentication({ verification, realm: config.realm, lockedDelayMs: config.lockedDelayMs, events });
  const transport: RequestHandler[] = config.requireHttps ? [requireHttps] : [];
  const post = (path: string, ...handlers: RequestHandler[]): void => {
    router.use(path, assignRequestId, noStore);
    router.post(path, ...transport, form, ...handlers);
    router.all(path, methodNotAllowed('POST'));
  };

  if (config.telemetry) router.use('/token', timeRequests(config.telemetry));
  if (config.signingKeyMade) router.use('/token', afterKeyMade(config.signingKeyMade));
  post('/token', checkGrantType, authenticate, issueToken({ signer, tokenLifetime: config.tokenLifetime, events }));
  const limit = (limiter: RateLimiterAbstract | undefined, what: string): RequestHandler[] => (limiter ? [clientRateLimit(limiter, what)] : []);
  const introspect = introspectEndpoint({ validator, introspectScope: config.introspectScope, events });
  post('/introspect', requireTokenParam, authenticate, requireConfidential, ...limit(config.introspectionLimiter, 'introspection'), introspect);
  post(
    '/revoke',
    requireTokenParam,
    authenticate,
    requireConfidential,
    ...limit(config.revocationLimiter, 'revocation'),
    revokeEndpoint({ registry, validator }),
  );
  router.get('/jwks', jwksEndpoint(keyring, config.jwksMaxAge, config.signingKeyMade));
  router.all('/jwks', methodNotAllowed('GET'));
  router.use(oauthErrorHandler({ onServerError: config.onServerError }));
  return router;
}
