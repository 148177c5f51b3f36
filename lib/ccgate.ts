import type { ErrorRequestHandler, Router } from 'express';
import { AuditEvents } from './events';
import { createGuard, type Guard } from './guard';
import { BcryptPool, createMetadataRouter, createTokenRouter, LimiterThrottle, oauthErrorHandler, SecretVerifier } from './issuer';
import { isFailureThrottle, resolveOptions, type CcgateOptions } from './options';
import { openRegistry, type CreatedClient, type KeyRecord, type Registry, type RotateSecretOptions } from './registry';
import { AccessTokenVerifier, Keyring, verifyingValidator, type SigningAlgorithm } from './tokens';

export interface Ccgate extends Guard {
  /**
   * The issuer's router: POST /token, GET /jwks, POST /introspect and POST /revoke. Mount it where
   * the `mountPath` option says (default app.use('/oauth', auth.tokenRouter())).
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
  /** Stops the bcrypt workers and the registry's timers, and closes the registry. */
  close(): Promise<void>;
}

/** Builds an issuer and a guard sharing one registry and one set of keys. */
export function ccgate(options: CcgateOptions): Ccgate {
  const o = resolveOptions(options);
  const events = new AuditEvents();
  const registry = openRegistry(o.db, { bcryptCost: o.bcryptCost, events, postgres: o.postgres });
  const keyring = new Keyring(registry);
  const pool = new BcryptPool({ workers: o.bcryptWorkers, maxQueue: o.bcryptQueue });
  const secretVerifier = new SecretVerifier(pool, o.bcryptCost);
  const verifier = new AccessTokenVerifier(keyring, {
    issuer: o.issuer,
    audience: o.audience,
    clockToleranceSeconds: o.clockTolerance,
    maxTokenLength: o.maxTokenLength,
    cache: o.verifiedTokenCache,
  });
  const validator = verifyingValidator(verifier, registry);
  const throttle = o.throttle && (isFailureThrottle(o.throttle) ? o.throttle : new LimiterThrottle((l) => registry.limiter(l), o.throttle));
  const guard = createGuard(validator, { realm: o.realm, errors: o.guardErrors, events });

  return {
    ...guard,
    errorHandler: oauthErrorHandler({ onServerError: o.onServerError }),
    registry,
    tokenRouter: () =>
      createTokenRouter({
        registry,
        keyring,
        secretVerifier,
        validator,
        issuer: o.issuer,
        audience: o.audience,
        algorithm: o.algorithm,
        tokenLifetime: o.tokenLifetime,
        realm: o.realm,
        maxBodyBytes: o.maxBodyBytes,
        jwksMaxAge: o.jwksMaxAge,
        introspectScope: o.introspectScope,
        requireHttps: o.requireHttps,
        throttle,
        lockedDelayMs: o.lockedDelayMs,
        events,
        onServerError: o.onServerError,
      }),
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
    rotateClientSecret: (clientId, rotation) => registry.rotateClientSecret(clientId, rotation),
    events,
    async ready() {
      await registry.ready();
      await keyring.signingKey(o.algorithm);
    },
    async close() {
      await pool.close();
      await registry.close();
    },
  };
}
