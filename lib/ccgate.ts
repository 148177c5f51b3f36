import type { ErrorRequestHandler, Router } from 'express';
import { AuditEvents } from './events';
import { createGuard, type Guard } from './guard';
import { BcryptPool, createMetadataRouter, createTokenRouter, oauthErrorHandler, SecretVerifier } from './issuer';
import { resolveOptions, type CcgateOptions } from './options';
import { SqliteRegistry, type CreatedClient, type KeyRecord, type RegistryStore, type RotateSecretOptions } from './registry';
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
  registry: RegistryStore;
  /** Stops the bcrypt workers and closes the registry (if ccgate opened it). */
  close(): Promise<void>;
}

/** Builds an issuer and a guard sharing one registry and one set of keys. */
export function ccgate(options: CcgateOptions): Ccgate {
  const o = resolveOptions(options);
  const ownsStore = typeof o.db === 'string';
  const store = typeof o.db === 'string' ? new SqliteRegistry(o.db, { bcryptCost: o.bcryptCost }) : o.db;
  const keyring = new Keyring(store);
  const pool = new BcryptPool({ workers: o.bcryptWorkers, maxQueue: o.bcryptQueue });
  const secretVerifier = new SecretVerifier(pool, o.bcryptCost);
  const verifier = new AccessTokenVerifier(keyring, {
    issuer: o.issuer,
    audience: o.audience,
    clockToleranceSeconds: o.clockTolerance,
    maxTokenLength: o.maxTokenLength,
    cache: o.verifiedTokenCache,
  });
  const validator = verifyingValidator(verifier, store);
  const events = new AuditEvents();
  const guard = createGuard(validator, { realm: o.realm, errors: o.guardErrors, events });

  return {
    ...guard,
    errorHandler: oauthErrorHandler({ onServerError: o.onServerError }),
    registry: store,
    tokenRouter: () =>
      createTokenRouter({
        store,
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
        throttle: o.throttle,
        lockedDelayMs: o.lockedDelayMs,
        events,
        onServerError: o.onServerError,
      }),
    metadataRouter: () => createMetadataRouter({ store, issuer: o.issuer, endpointsBase: o.endpointsBase, maxAgeSeconds: o.jwksMaxAge }),
    async rotateKey(rotation = {}) {
      const key = await store.rotateKey({ alg: rotation.algorithm ?? o.algorithm, leadSeconds: rotation.leadSeconds ?? o.rotationLeadSeconds });
      await store.pruneKeys();
      events.emit({ type: 'key.rotated', kid: key.kid, alg: key.alg, activatesAt: key.activatesAt });
      return key;
    },
    async rotateClientSecret(clientId, rotation = {}) {
      const created = await store.rotateClientSecret(clientId, rotation);
      events.emit({ type: 'secret.rotated', clientId, overlapSeconds: rotation.overlapSeconds ?? 0 });
      return created;
    },
    events,
    async close() {
      await pool.close();
      if (ownsStore) await store.close();
    },
  };
}
