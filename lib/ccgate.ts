import type { ErrorRequestHandler, Router } from 'express';
import type { Registry as MetricsRegistry } from 'prom-client';
import { DEFAULTS } from './defaults';
import { AuditEvents } from './events';
import { createResolvedGuard, type Guard } from './guard/guard';
import { resolveGuardOptions } from './guard/options';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { BcryptPool, createMetadataRouter, createTokenRouter, LimiterThrottle, oauthErrorHandler, SecretVerifier, type IssuerConfig } from './issuer';
import { SigningKeyWarmup } from './issuer/key-warmup';
import { countAuditEvents, createHealthRouter, createMetricsRouter, PromTelemetry, type HealthOptions } from './metrics';
import { warnAboutPlaintextKeys } from './key-secrets';
import { isFailureThrottle, resolveOptions, type CcgateOptions, type ResolvedOptions } from './options';
import { openRegistry, type CreatedClient, type KeyRecord, type Registry, type RotateSecretOptions } from './registry';
import { AccessTokenVerifier, ANY_AUDIENCE, Keyring, verifyingValidator, type SigningAlgorithm } from './tokens';
import { DpopNonces } from './tokens/dpop-nonce';

export interface Ccgate extends Guard {
  /**
   * The issuer's router: POST /token, GET /jwks, POST /introspect and POST /revoke. Mount it where
   * the `mountPath` option says (default app.use('/oauth', auth.tokenRouter())). Building it starts
   * making the signing key in the background, so the JWKS has a key before the first token.
   */
  tokenRouter(): Router;
  /** Error middleware answering ccgate errors as RFC 6749 / 6750 JSON; for guards with guardErrors: 'next'. */
  errorHandler: ErrorRequestHandler;
  /** RFC 8414 metadata router; mount at the app root: app.use(auth.metadataRouter()). */
  metadataRouter(): Router;
  /**
   * Starts a key rotation: a new key is published at once and signs after `leadSeconds` (default:
   * jwksMaxAge + 60, so cached JWKS copies have it); the old key retires then and leaves the JWKS once
   * its last token has expired.
   */
  rotateKey(options?: { leadSeconds?: number; algorithm?: SigningAlgorithm }): Promise<KeyRecord>;
  /**
   * Kills a (leaked) signing key at once: removed from the registry, the JWKS and every keyring on
   * this registry; tokens it signed fail at the next request to a local guard or introspection. If it
   * was this instance's signing key, a new one is made now. Resolves with the key as it was.
   */
  revokeKey(kid: string): Promise<KeyRecord>;
  /** Rotates a client's secret (optionally keeping the old one valid for overlapSeconds) and emits secret.rotated. */
  rotateClientSecret(clientId: string, options?: RotateSecretOptions): Promise<CreatedClient>;
  /** Audit events: auth.events.on('*', (e) => log(JSON.stringify(e))). */
  events: AuditEvents;
  /** The registry this instance uses (to create clients in code, or in tests). */
  registry: Registry;
  /**
   * Resolves once the registry is open (connected and migrated) and a signing key exists for the
   * configured algorithm; rejects while the database cannot be reached. Requests do not need it
   * (they wait for the registry themselves): await it at startup to fail fast.
   */
  ready(): Promise<void>;
  /**
   * This instance's metrics (README "Metrics"): a prom-client Registry of its own, never the global
   * one. Serve it with metricsRouter(), or combine it with the app's: Registry.merge([auth.metrics, mine]).
   */
  metrics: MetricsRegistry;
  /** GET /metrics: `metrics` in Prometheus's text format. Mount it where only your scraper reaches it. */
  metricsRouter(): Router;
  /**
   * GET /healthz (liveness: 200 while the process serves) and GET /readyz (readiness: 200 when the
   * registry answers and a signing key exists for `algorithm`, else 503 with a reason, within `timeoutMs`).
   */
  healthRouter(options?: HealthOptions): Router;
  /** Stops the bcrypt workers and the registry's timers, and closes the registry. */
  close(): Promise<void>;
}

/**
 * The per-client limiters: revocations counted in the registry's storage (they write rows anyway,
 * and every instance shares the count), introspections in memory per instance (a shared count would
 * cost a database write per introspection).
 */
function clientLimiters(registry: Registry, limits: ResolvedOptions['clientRateLimits']): Pick<IssuerConfig, 'introspectionLimiter' | 'revocationLimiter'> {
  if (!limits) return {};
  return {
    revocationLimiter: registry.limiter({ keyPrefix: 'ccgate-revoke', points: limits.revocationsPerMinute, durationSeconds: 60, blockDurationSeconds: 0 }),
    introspectionLimiter: new RateLimiterMemory({ keyPrefix: 'ccgate-introspect', points: limits.introspectionsPerSecond, duration: 1 }),
  };
}

/** The token endpoint's DPoP settings (RFC 9449): the nonces exist only when the option asks for them. */
function dpopConfig(dpop: ResolvedOptions['dpop'], clockToleranceSeconds: number): IssuerConfig['dpop'] {
  const nonces = dpop.nonces && new DpopNonces({ secret: dpop.nonces.secret, lifetimeSeconds: DEFAULTS.dpop.nonceLifetimeSeconds, clockToleranceSeconds });
  return { proofWindowSeconds: dpop.proofWindowSeconds, maxProofLength: DEFAULTS.dpop.maxProofLength, ...(nonces ? { nonces } : {}) };
}

/** Builds an issuer and a guard sharing one registry and one set of keys. */
export function ccgate(options: CcgateOptions): Ccgate {
  const o = resolveOptions(options);
  const events = new AuditEvents();
  const telemetry = new PromTelemetry({ clientLabels: o.metricsClientLabels });
  // RFC 9449 §11.1: with 'registry', the proofs' jti seen by this guard are shared, so a proof replayed to another instance fails too.
  const { replay, ...guardDpop } = options.guardDpop ?? {};
  const guardReplay = replay === 'registry' ? { useOnce: (id: string, expiresAt: number) => registry.useOnce('dpop_resource_proof', id, expiresAt) } : replay;
  // Checked before anything is opened or started: a bad option leaves nothing running behind it.
  const guardOptions = resolveGuardOptions(
    { realm: o.realm, errors: o.guardErrors, events, telemetry, dpop: { ...guardDpop, replay: guardReplay }, protectedResource: options.protectedResource },
    o.issuer,
    'guardDpop',
  );
  const registry = openRegistry(o.db, {
    bcryptCost: o.bcryptCost,
    events,
    postgres: o.postgres,
    clockToleranceSeconds: o.clockTolerance,
    telemetry,
    ...o.keySecrets,
  });
  const keyring = new Keyring(registry);
  const pool = new BcryptPool({ workers: o.bcryptWorkers, maxQueue: o.bcryptQueue, maxQueuePerSource: o.bcryptQueuePerAddress, telemetry });
  const secretVerifier = new SecretVerifier(pool, o.bcryptCost, undefined, telemetry.secretCache);
  const verifier = new AccessTokenVerifier(keyring, {
    issuer: o.issuer,
    audience: o.audience,
    clockToleranceSeconds: o.clockTolerance,
    maxTokenLength: o.maxTokenLength,
    cache: o.verifiedTokenCache,
    cacheTelemetry: telemetry.verifiedTokenCache,
  });
  const validator = verifyingValidator(verifier, registry);
  // Introspection and revocation judge every token this issuer signed, whatever resource it is for (RFC 8707).
  const issuedTokens = verifyingValidator(
    new AccessTokenVerifier(keyring, { issuer: o.issuer, audience: ANY_AUDIENCE, clockToleranceSeconds: o.clockTolerance, maxTokenLength: o.maxTokenLength }),
    registry,
  );
  const throttle = o.throttle && (isFailureThrottle(o.throttle) ? o.throttle : new LimiterThrottle((l) => registry.limiter(l), o.throttle));
  const guard = createResolvedGuard(validator, guardOptions);
  telemetry.observe({ bcryptQueueDepth: () => pool.queued, signingKeys: () => registry.listKeys() });
  countAuditEvents(events, telemetry, o.algorithm);
  const keyWarmup = new SigningKeyWarmup(() => keyring.signingKey(o.algorithm), o.onServerError);

  return {
    ...guard,
    errorHandler: oauthErrorHandler({ onServerError: o.onServerError }),
    registry,
    tokenRouter: () => {
      keyWarmup.start();
      return createTokenRouter({
        registry,
        keyring,
        secretVerifier,
        validator: issuedTokens,
        issuer: o.issuer,
        audience: o.audience,
        algorithm: o.algorithm,
        tokenLifetime: o.tokenLifetime,
        realm: o.realm,
        maxBodyBytes: o.maxBodyBytes,
        maxTokenLength: o.maxTokenLength,
        endpointsBase: o.endpointsBase,
        requireResource: o.requireResource,
        clockToleranceSeconds: o.clockTolerance ?? DEFAULTS.clockToleranceSeconds,
        clientAssertionMaxLifetime: o.clientAssertionMaxLifetime,
        clientKeySets: { ...DEFAULTS.clientKeySets, allowHttpLoopback: o.allowLoopbackHttpJwksUri },
        dpop: dpopConfig(o.dpop, o.clockTolerance ?? DEFAULTS.clockToleranceSeconds),
        jwksMaxAge: o.jwksMaxAge,
        introspectScope: o.introspectScope,
        requireHttps: o.requireHttps,
        throttle,
        ...clientLimiters(registry, o.clientRateLimits),
        lockedDelayMs: o.lockedDelayMs,
        events,
        telemetry,
        signingKeyMade: () => keyWarmup.settled(),
        onServerError: o.onServerError,
      });
    },
    metadataRouter: () =>
      createMetadataRouter({
        registry,
        issuer: o.issuer,
        endpointsBase: o.endpointsBase,
        maxAgeSeconds: o.jwksMaxAge,
        onServerError: o.onServerError,
      }),
    async rotateKey(rotation = {}) {
      const key = await registry.rotateKey({ alg: rotation.algorithm ?? o.algorithm, leadSeconds: rotation.leadSeconds ?? o.rotationLeadSeconds });
      await registry.pruneKeys();
      return key;
    },
    async revokeKey(kid) {
      const revoked = await registry.revokeKey(kid);
      // The next token need not pay for the key generation.
      if (revoked.status === 'active' && revoked.alg === o.algorithm) await keyring.signingKey(o.algorithm);
      return revoked;
    },
    rotateClientSecret: (clientId, rotation) => registry.rotateClientSecret(clientId, rotation),
    events,
    metrics: telemetry.registry,
    metricsRouter: () => createMetricsRouter(telemetry.registry),
    healthRouter: (health) => createHealthRouter(registry, o.algorithm, health),
    async ready() {
      await registry.ready();
      await keyWarmup.settled();
      await keyring.signingKey(o.algorithm);
      await warnAboutPlaintextKeys(registry);
    },
    async close() {
      await keyWarmup.settled();
      await pool.close();
      await registry.close();
    },
  };
}
