import type { ErrorRequestHandler, Router } from 'express';
import { createGuard, type Guard, type GuardOptions } from './guard';
import { AuditEvents } from './events';
import {
  BcryptPool,
  DEFAULT_LOCKED_DELAY_MS,
  createMetadataRouter,
  createTokenRouter,
  MemoryFailureThrottle,
  oauthErrorHandler,
  SecretVerifier,
  type FailureThrottle,
  type ThrottleOptions,
} from './issuer';
import {
  DEFAULT_BCRYPT_COST,
  MAX_TOKEN_TTL_SECONDS,
  SqliteRegistry,
  type CreatedClient,
  type KeyRecord,
  type RegistryStore,
  type RotateSecretOptions,
} from './registry';
import { AccessTokenVerifier, Keyring, verifyingValidator, type SigningAlgorithm, type VerifiedCacheOptions } from './tokens';

export interface CcgateOptions {
  /** Path of the SQLite registry file (created if missing), or a RegistryStore of your own. */
  db: string | RegistryStore;
  /** The issuer identifier: `iss` of every token, used verbatim (an https URL in production). */
  issuer: string;
  /** `aud` of issued tokens and the audience the guard accepts (default: the issuer). */
  audience?: string | string[];
  /** Default access token lifetime in seconds (default 900; at most 86400). A client's own --ttl wins. */
  tokenLifetime?: number;
  /** Signing algorithm of new tokens (default RS256). */
  algorithm?: SigningAlgorithm;
  /** Seconds of clock skew the guard allows on exp / nbf (default 5). */
  clockTolerance?: number;
  /** bcrypt cost of secrets created through this instance (default 10). */
  bcryptCost?: number;
  /** Worker threads for bcrypt compares (default: one per core; 0 = on the main thread). */
  bcryptWorkers?: number;
  /** bcrypt compares allowed to wait for a worker before the token endpoint answers 503 (default 64). */
  bcryptQueue?: number;
  /** Realm in WWW-Authenticate challenges (default "ccgate"). */
  realm?: string;
  /** Largest accepted token-endpoint request body in bytes (default 8192). */
  maxBodyBytes?: number;
  /** Longest bearer token the guard reads, in characters (default 4096). */
  maxTokenLength?: number;
  /** Guard error handling: 'respond' (default) or 'next' (see GuardOptions). */
  guardErrors?: GuardOptions['errors'];
  /** Bounds of the guard's cache of verified tokens (default 10,000 tokens / 16 MiB). */
  verifiedTokenCache?: VerifiedCacheOptions;
  /** Path at which you mount tokenRouter(), for the absolute URLs in the metadata (default "/oauth"). */
  mountPath?: string;
  /** Seconds validators may cache the JWKS and the metadata (default 300). */
  jwksMaxAge?: number;
  /** Scope that lets a client introspect other clients' tokens (default "ccgate:introspect"). */
  introspectScope?: string;
  /**
   * Refuse plain HTTP on the token, introspection and revocation endpoints (default: on when
   * NODE_ENV=production). Behind a TLS-terminating proxy, set Express's `trust proxy`.
   */
  requireHttps?: boolean;
  /**
   * Lockout of failed client authentication per client_id and per address (defaults: 10 and 50
   * failures per 300 s window; a locked caller's 429 comes after lockedDelayMs, default 1000).
   * `false` disables it; a FailureThrottle of your own replaces the counters.
   */
  throttle?: ThrottleOptions | FailureThrottle | false;
  /** Called with unexpected server faults (answered as a bare 500 server_error). Default: ignored. */
  onServerError?: (err: unknown) => void;
}

export interface Ccgate extends Guard {
  /** The issuer's router: POST /token (mount it, e.g. at /oauth). */
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

function assertIssuer(issuer: string): void {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new TypeError(`issuer must be an absolute URL, got "${issuer}"`);
  }
  // RFC 8414 §2: https, no query, no fragment. http is allowed for local development.
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new TypeError(`issuer must be an http(s) URL without query or fragment, got "${issuer}"`);
  }
}

function createThrottle(option: CcgateOptions['throttle']): FailureThrottle | undefined {
  if (option === false) return undefined;
  if (option && 'retryAfter' in option) return option;
  return new MemoryFailureThrottle(option);
}

/** The tarpit belongs to the throttle: none without it. */
function lockedDelayMs(option: CcgateOptions['throttle']): number {
  if (option === false) return 0;
  const delay = option && !('retryAfter' in option) ? option.lockedDelayMs : undefined;
  return delay ?? DEFAULT_LOCKED_DELAY_MS;
}

/** "/oauth" form: leading slash, no trailing slash ("" for the root). */
function normalizeMountPath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed !== '' && !trimmed.startsWith('/')) throw new TypeError(`mountPath must start with "/", got "${path}"`);
  return trimmed;
}

function assertLifetime(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_TOKEN_TTL_SECONDS) {
    throw new TypeError(`tokenLifetime must be a whole number of seconds from 1 to ${MAX_TOKEN_TTL_SECONDS}`);
  }
}

/** Builds an issuer and a guard sharing one registry and one set of keys. */
export function ccgate(options: CcgateOptions): Ccgate {
  assertIssuer(options.issuer);
  const tokenLifetime = options.tokenLifetime ?? 900;
  assertLifetime(tokenLifetime);
  const bcryptCost = options.bcryptCost ?? DEFAULT_BCRYPT_COST;
  const ownsStore = typeof options.db === 'string';
  const store = typeof options.db === 'string' ? new SqliteRegistry(options.db, { bcryptCost }) : options.db;
  const audience = options.audience ?? options.issuer;
  const realm = options.realm ?? 'ccgate';
  const keyring = new Keyring(store);
  const pool = new BcryptPool({ workers: options.bcryptWorkers, maxQueue: options.bcryptQueue });
  const secretVerifier = new SecretVerifier(pool, bcryptCost);
  const verifier = new AccessTokenVerifier(keyring, {
    issuer: options.issuer,
    audience,
    clockToleranceSeconds: options.clockTolerance,
    maxTokenLength: options.maxTokenLength,
    cache: options.verifiedTokenCache,
  });
  const validator = verifyingValidator(verifier, store);
  const events = new AuditEvents();
  const guard = createGuard(validator, { realm, errors: options.guardErrors, events });
  const throttle = createThrottle(options.throttle);
  const errorHandler = oauthErrorHandler(options);
  const algorithm = options.algorithm ?? 'RS256';
  const jwksMaxAge = options.jwksMaxAge ?? 300;
  const mountPath = normalizeMountPath(options.mountPath ?? '/oauth');

  return {
    ...guard,
    errorHandler,
    registry: store,
    tokenRouter: () =>
      createTokenRouter({
        store,
        keyring,
        secretVerifier,
        validator,
        issuer: options.issuer,
        audience,
        algorithm,
        tokenLifetime,
        realm,
        maxBodyBytes: options.maxBodyBytes ?? 8192,
        jwksMaxAge,
        introspectScope: options.introspectScope ?? 'ccgate:introspect',
        requireHttps: options.requireHttps ?? process.env.NODE_ENV === 'production',
        throttle,
        lockedDelayMs: lockedDelayMs(options.throttle),
        events,
        onServerError: options.onServerError,
      }),
    metadataRouter: () =>
      createMetadataRouter({
        store,
        issuer: options.issuer,
        endpointsBase: `${options.issuer.replace(/\/$/, '')}${mountPath}`,
        maxAgeSeconds: jwksMaxAge,
      }),
    async rotateKey(rotation = {}) {
      const key = await store.rotateKey({ alg: rotation.algorithm ?? algorithm, leadSeconds: rotation.leadSeconds ?? jwksMaxAge + 60 });
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

