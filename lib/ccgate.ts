import type { ErrorRequestHandler, Router } from 'express';
import { createGuard, verifyingValidator, type Guard, type GuardOptions } from './guard';
import { BcryptPool, createTokenRouter, oauthErrorHandler, SecretVerifier } from './issuer';
import { DEFAULT_BCRYPT_COST, MAX_TOKEN_TTL_SECONDS, SqliteRegistry, type RegistryStore } from './registry';
import { AccessTokenVerifier, Keyring, type SigningAlgorithm, type VerifiedCacheOptions } from './tokens';

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
  /** Called with unexpected server faults (answered as a bare 500 server_error). Default: ignored. */
  onServerError?: (err: unknown) => void;
}

export interface Ccgate extends Guard {
  /** The issuer's router: POST /token (mount it, e.g. at /oauth). */
  tokenRouter(): Router;
  /** Error middleware answering ccgate errors as RFC 6749 / 6750 JSON; for guards with guardErrors: 'next'. */
  errorHandler: ErrorRequestHandler;
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
  const guard = createGuard(verifyingValidator(verifier, store), { realm, errors: options.guardErrors });
  const errorHandler = oauthErrorHandler(options);

  return {
    ...guard,
    errorHandler,
    registry: store,
    tokenRouter: () =>
      createTokenRouter({
        store,
        keyring,
        secretVerifier,
        issuer: options.issuer,
        audience,
        algorithm: options.algorithm ?? 'RS256',
        tokenLifetime,
        realm,
        maxBodyBytes: options.maxBodyBytes ?? 8192,
        onServerError: options.onServerError,
      }),
    async close() {
      await pool.close();
      if (ownsStore) await store.close();
    },
  };
}

