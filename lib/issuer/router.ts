import { Router, type RequestHandler } from 'express';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { unauthorizedClient } from '../errors';
import type { AuditEvents } from '../events';
import { timeRequests } from '../metrics/latency';
import type { IssuerTelemetry } from '../metrics/telemetry';
import type { Registry } from '../registry';
import type { RemoteKeySetPolicy } from '../remote/key-set';
import type { AccessTokenValidator, Keyring, SigningAlgorithm } from '../tokens';
import { htuOf } from '../tokens/dpop';
import { AssertionVerification } from './assertion-verification';
import { clientAuthentication } from './client-auth';
import { ClientKeySets } from './client-keys';
import { clientRateLimit } from './client-rate-limit';
import { ClientVerification } from './client-verification';
import { DpopBinding, type DpopNonceSource } from './dpop-binding';
import { assignRequestId, formBody, methodNotAllowed, noStore, oauthErrorHandler, requireHttps, type ErrorHandlerOptions } from './http';
import { introspectEndpoint } from './introspect';
import { jwksEndpoint } from './jwks';
import { pipeline } from './pipeline';
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
  /** Longest token the guards read: the token endpoint never issues a longer one (nor reads a longer client assertion). */
  maxTokenLength: number;
  /** Absolute URL of the token router, e.g. https://api.example.com/oauth: `${endpointsBase}/token` is an assertion's audience. */
  endpointsBase: string;
  /** Refuse token requests without `resource` (RFC 8707). */
  requireResource: boolean;
  clockToleranceSeconds: number;
  /** private_key_jwt: the longest an assertion may live, and how client jwks_uri key sets are fetched. */
  clientAssertionMaxLifetime: number;
  clientKeySets: RemoteKeySetPolicy;
  /** DPoP at the token endpoint (RFC 9449): the proof window, the longest proof, and server nonces (none: proofs need none). */
  dpop: { proofWindowSeconds: number; maxProofLength: number; nonces?: DpopNonceSource };
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
  const assertions = new AssertionVerification({
    registry,
    keySets: new ClientKeySets(config.clientKeySets),
    // RFC 7523 §3 item 3: the token endpoint URL; the issuer identifier is accepted too (RFC 7521 §5.1), at every endpoint.
    audiences: [config.issuer, `${config.endpointsBase}/token`],
    maxLifetimeSeconds: config.clientAssertionMaxLifetime,
    clockToleranceSeconds: config.clockToleranceSeconds,
    maxLength: config.maxTokenLength,
  });
  const authenticate = clientAuthentication({ verification, assertions, realm: config.realm, lockedDelayMs: config.lockedDelayMs, events });
  const tokenEndpoint = `${config.endpointsBase}/token`;
  const dpop = new DpopBinding({
    // The configured public URL, in the form proofs' htu are compared in (RFC 9449 §4.3 item 9).
    tokenEndpoint: htuOf(tokenEndpoint) ?? tokenEndpoint,
    proofWindowSeconds: config.dpop.proofWindowSeconds,
    clockToleranceSeconds: config.clockToleranceSeconds,
    maxProofLength: config.dpop.maxProofLength,
    nonces: config.dpop.nonces,
    registry,
    events,
  });
  const transport: RequestHandler[] = config.requireHttps ? [requireHttps] : [];
  /**
   * A POST endpoint at `path`: every request to it (or under it) gets `before`, a request id and
   * no-store; a POST to it exactly runs the steps, any other method is 405. One router layer per
   * endpoint, the steps run by `pipeline`: what was a layer per step (each matched and, for
   * router.use, its req.url rewritten) cost the token endpoint more than most of its steps.
   */
  const post = (path: string, before: RequestHandler[], ...handlers: RequestHandler[]): void => {
    const steps = pipeline(...transport, form, ...handlers);
    const notAllowed = methodNotAllowed('POST');
    const dispatch: RequestHandler = (req, res, next) => {
      // Inside router.use(path), req.url is what follows the path: '/' (or '/?query') when it is the path itself.
      if (req.url !== '/' && !req.url.startsWith('/?')) next();
      else if (req.method === 'POST') void steps(req, res, next);
      else void notAllowed(req, res, next);
    };
    router.use(path, pipeline(...before, assignRequestId, noStore, dispatch));
  };

  const tokenBefore: RequestHandler[] = [];
  if (config.telemetry) tokenBefore.push(timeRequests(config.telemetry));
  if (config.signingKeyMade) tokenBefore.push(afterKeyMade(config.signingKeyMade));
  const resources = { findResource: (uri: string) => registry.findResource(uri), requireResource: config.requireResource };
  // The proof is checked before client authentication (no bcrypt for a bad one), bound after it.
  post(
    '/token',
    tokenBefore,
    checkGrantType,
    dpop.checkProof,
    authenticate,
    dpop.bindProof,
    issueToken({ signer, resources, tokenLifetime: config.tokenLifetime, events }),
  );
  const limit = (limiter: RateLimiterAbstract | undefined, what: string): RequestHandler[] => (limiter ? [clientRateLimit(limiter, what)] : []);
  const defaultAudiences = Array.isArray(config.audience) ? config.audience : [config.audience];
  const isIssuedAudience = async (aud: string): Promise<boolean> => defaultAudiences.includes(aud) || (await registry.findResource(aud)) !== null;
  const introspect = introspectEndpoint({ validator, isIssuedAudience, introspectScope: config.introspectScope, events });
  post('/introspect', [], requireTokenParam, authenticate, requireConfidential, ...limit(config.introspectionLimiter, 'introspection'), introspect);
  post(
    '/revoke',
    [],
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
