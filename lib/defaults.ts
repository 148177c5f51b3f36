/**
 * Every default value of every option, in one place. Option resolution (options.ts for ccgate(),
 * guard/options.ts for the guards) and the public classes that can be built on their own read them
 * from here; no module writes a default of its own.
 */
export const DEFAULTS = {
  /** RFC 6750 §3 / RFC 7235 realm of every challenge. */
  realm: 'ccgate',
  /** Access token lifetime in seconds. */
  tokenLifetimeSeconds: 900,
  algorithm: 'RS256',
  /** Clock skew allowed on exp / nbf / iat, in seconds. */
  clockToleranceSeconds: 5,
  bcryptCost: 10,
  /** bcrypt checks allowed to wait for a worker, in all and per source address. */
  bcryptQueue: 64,
  bcryptQueuePerSource: 8,
  maxBodyBytes: 8192,
  /** Longest access token the guards read, in characters. */
  maxTokenLength: 4096,
  mountPath: '/oauth',
  /** Seconds validators may cache the JWKS and the metadata. */
  jwksMaxAgeSeconds: 300,
  /** Extra lead of a rotated key beyond the JWKS max-age, so every cached copy has it in time. */
  rotationLeadMarginSeconds: 60,
  introspectScope: 'ccgate:introspect',
  guardErrors: 'respond',
  verifiedCache: { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024 },
  throttle: {
    maxFailuresPerClientAndAddress: 10,
    maxFailuresPerAddress: 50,
    slowdownAfter: 10,
    slowdownStepMs: 100,
    maxSlowdownMs: 2000,
    windowSeconds: 300,
    lockedDelayMs: 1000,
  },
  /** Calls per client: revocations (shared by every instance) and introspections (per instance). */
  clientRateLimits: { revocationsPerMinute: 60, introspectionsPerSecond: 100 },
  /** The remote guard's calls to the issuer. */
  remote: {
    timeoutMs: 5000,
    jwksCooldownSeconds: 30,
    jwksRefetchIntervalSeconds: 1,
    jwksMaxAgeSeconds: 600,
    introspectionCacheSeconds: 30,
    introspectionNegativeCacheSeconds: 10,
  },
  /** private_key_jwt client assertions (RFC 7523 §3): longest lifetime left (exp - now), longest assertion read in characters. */
  clientAssertion: { maxLifetimeSeconds: 300, maxLength: 4096 },
  /**
   * Key sets fetched from clients' jwks_uri (RemoteKeySet): connect and total timeouts; seconds a set
   * is used before it is refetched; least seconds between fetches an unknown kid causes; the window
   * bounding those fetches (3 per window) and holding off any fetch after a failed one.
   */
  clientKeySets: { connectTimeoutMs: 2000, timeoutMs: 5000, maxAgeSeconds: 300, refetchIntervalSeconds: 1, cooldownSeconds: 30 },
  /**
   * DPoP proofs (RFC 9449): seconds a proof's iat may lie from now either way (§4.3 item 10, §11.1;
   * plus clockToleranceSeconds), longest proof read in characters, and seconds a server nonce is
   * accepted at most (§8, §9; a new one is handed out every half of it).
   */
  dpop: { proofWindowSeconds: 60, maxProofLength: 4096, nonceLifetimeSeconds: 300 },
  /** Milliseconds a SQLite write waits for another process's lock. */
  sqliteBusyTimeoutMs: 5000,
  /** The PostgreSQL backend (PostgresOptions). */
  postgres: { poolSize: 10, connectTimeoutMs: 2000, statementTimeoutMs: 5000, maxStalenessMs: 1000, schema: 'public' },
  /** Seconds between the registry's passes deleting expired revocations, replay entries and dead keys. */
  pruneIntervalSeconds: 300,
  /** Distinct client ids given their own label in the tokens-by-client metric; later ones count as "other". */
  metricsClientLabels: 100,
  /** Milliseconds the readiness route waits for the registry (below Kubernetes' default probe timeout of 1 s). */
  readinessTimeoutMs: 800,
} as const;
