import { DEFAULTS } from './defaults';
import { ConfigurationError } from './errors';
import { resolveKeySecrets } from './key-secrets';
import type { GuardDpopOptions, GuardOptions, ProtectedResourceOptions } from './guard';
import type { FailureThrottle, ThrottleOptions } from './issuer';
import { dpopNonceSecret, type DpopNonceSecret } from './issuer/dpop-nonce-secret';
import { MAX_TOKEN_TTL_SECONDS, MIN_KEY_SECRET_LENGTH, type KeySecrets, type PostgresOptions, type RegistryStorage } from './registry';
import { assertBcryptCost } from './registry/rules';
import { SIGNING_ALGORITHMS, type SigningAlgorithm, type VerifiedCacheOptions } from './tokens';

export interface CcgateOptions {
  /**
   * The registry: a SQLite file path (created if missing), a postgres:// URL (several instances share
   * one database; `?schema=name` keeps ccgate's tables in that schema), or a RegistryStorage of your own.
   */
  db: string | RegistryStorage;
  /** PostgreSQL pool and timeouts, for a postgres:// `db` (see README "Running several instances"). */
  postgres?: PostgresOptions;
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
  /** bcrypt checks allowed to wait for a worker before the token endpoint answers 503 (default 64). */
  bcryptQueue?: number;
  /** bcrypt checks one address may have waiting (default 8): the queue is served address by address, fairly. */
  bcryptQueuePerAddress?: number;
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
   * Throttling of failed client authentication (README "Security"): an address is refused after 10
   * failures for one client id, or 50 in all, per 300 s window; a client id under attack from many
   * addresses only has its failed attempts slowed (at most 2 s). Refused callers get 401 invalid_client
   * with Retry-After after lockedDelayMs (1000). `false` disables it; a FailureThrottle of your own
   * replaces the counters.
   */
  throttle?: ThrottleOptions | FailureThrottle | false;
  /**
   * Per-client limits of the introspection and revocation endpoints (defaults: 100 introspections per
   * second per instance, 60 revocations per minute across instances); beyond them 429 with Retry-After.
   * `false` disables both.
   */
  clientRateLimits?: { revocationsPerMinute?: number; introspectionsPerSecond?: number } | false;
  /**
   * Refuse token requests without a `resource` parameter (RFC 8707), so every token is restricted to
   * one registered API (default false: without `resource`, tokens get the default audience).
   */
  requireResource?: boolean;
  /** Longest a private_key_jwt client assertion may live, from its receipt to its exp, in seconds (default 300). */
  clientAssertionMaxLifetime?: number;
  /**
   * Fetch a private_key_jwt client's jwks_uri over plain http when its host is a loopback address
   * (127.0.0.0/8, ::1, localhost): for development only (default false: https only).
   */
  allowLoopbackHttpJwksUri?: boolean;
  /**
   * Distinct client ids given their own label in the ccgate_tokens_issued_by_client_total metric
   * (default 100); tokens of later clients count under client_id="other". 0 counts every client as "other".
   */
  metricsClientLabels?: number;
  /**
   * Secret under which private signing keys are encrypted in the registry (AES-256-GCM envelope, README
   * "Security"): a random string of at least 32 characters. Default: CCGATE_KEY_SECRET. Without one,
   * NODE_ENV=production refuses to start (see allowUnencryptedKeys); elsewhere ccgate warns once.
   */
  keySecret?: string;
  /** Earlier key secrets, for decrypting only, until `ccgate key rewrap` is done. Default: CCGATE_KEY_SECRETS_PREVIOUS (comma-separated). */
  previousKeySecrets?: string[];
  /** Accept private signing keys stored unencrypted (no keySecret), in production too, without a warning (default false). */
  allowUnencryptedKeys?: boolean;
  /**
   * DPoP at the token endpoint (RFC 9449; README "DPoP at the token endpoint"). A token request with a
   * valid `DPoP` proof always gets a token bound to the proof's key (`cnf.jkt`, token_type DPoP); these
   * options tune the checks.
   * - `proofWindowSeconds`: how far a proof's `iat` may be from now, either way (default 60; 1 to
   *   3600); the clockTolerance is allowed on top. Each proof's jti is remembered that long.
   * - `nonces`: require server nonces in proofs (RFC 9449 §8, default false). A proof without the
   *   current nonce is answered 400 use_dpop_nonce with the nonce in `DPoP-Nonce`; every token
   *   endpoint answer carries a fresh one.
   * - `nonceSecret`: the secret nonces are made with (at least 32 characters; only with `nonces: true`).
   *   Default: derived from the key secret (keySecret / CCGATE_KEY_SECRET), so instances sharing a
   *   registry and its key secret accept each other's nonces; without a key secret, random per
   *   process, and nonces then only work with a single instance.
   */
  dpop?: { nonces?: boolean; nonceSecret?: string; proofWindowSeconds?: number };
  /**
   * DPoP at this instance's own guard (requireScope and friends; RFC 9449 §7): bound tokens are always
   * checked; `required`, `publicBaseUrl`, `proofWindowSeconds` and resource nonces (`nonceSecret`) as
   * for remoteGuard's `dpop`. `replay`: where proof ids are remembered: this process's memory (default),
   * 'registry' (shared by every instance on the registry, at the cost of a registry write per DPoP
   * request), or a DpopReplayStore of your own.
   */
  guardDpop?: Omit<GuardDpopOptions, 'replay'> & { replay?: GuardDpopOptions['replay'] | 'registry' };
  /**
   * RFC 9728 protected resource metadata of the API this instance's guard protects: served by
   * protectedResourceMetadata(), and named in every challenge of the guard (`resource_metadata`).
   * `authorizationServers` defaults to this issuer.
   */
  protectedResource?: ProtectedResourceOptions;
  /** Called with unexpected server faults (answered as a bare 500 server_error). Default: ignored. */
  onServerError?: (err: unknown) => void;
}

/**
 * The options with every default applied and every value checked: what ccgate() builds from. The
 * few left optional belong to a part that resolves them itself (the verifier, the bcrypt pool).
 */
export interface ResolvedOptions {
  db: string | RegistryStorage;
  postgres?: PostgresOptions;
  issuer: string;
  audience: string | string[];
  tokenLifetime: number;
  algorithm: SigningAlgorithm;
  clockTolerance?: number;
  bcryptCost: number;
  bcryptWorkers?: number;
  bcryptQueue?: number;
  bcryptQueuePerAddress?: number;
  realm: string;
  maxBodyBytes: number;
  /** The guard's limit, and the limit of what the token endpoint issues. */
  maxTokenLength: number;
  guardErrors: 'respond' | 'next';
  verifiedTokenCache?: VerifiedCacheOptions;
  /** Absolute URL where the token router is mounted, e.g. https://api.example.com/oauth. */
  endpointsBase: string;
  jwksMaxAge: number;
  /** Lead of a rotated key by default: the JWKS max-age plus a margin, so every cached copy has it. */
  rotationLeadSeconds: number;
  introspectScope: string;
  requireHttps: boolean;
  /** The user's own throttle, the options of ours (its counters live in the registry), or none. */
  throttle: FailureThrottle | ThrottleOptions | undefined;
  /** Milliseconds a throttled caller waits for its answer (0 without a throttle). */
  lockedDelayMs: number;
  /** null: no per-client limits. */
  clientRateLimits: { revocationsPerMinute: number; introspectionsPerSecond: number } | null;
  requireResource: boolean;
  clientAssertionMaxLifetime: number;
  allowLoopbackHttpJwksUri: boolean;
  metricsClientLabels: number;
  /** The key secrets, from the options or the environment; no current one only when allowed. */
  keySecrets: KeySecrets;
  /** DPoP at the token endpoint: the proof window, and the nonce secret (null: no nonces). */
  dpop: { proofWindowSeconds: number; nonces: DpopNonceSecret | null };
  onServerError: (err: unknown) => void;
}

/** RFC 8414 §2: https (http allowed for local development), no query, no fragment. */
function checkIssuer(issuer: unknown): string {
  let url: URL;
  try {
    url = new URL(String(issuer));
  } catch {
    throw new ConfigurationError('issuer', `issuer must be an absolute URL, got "${String(issuer)}"`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new ConfigurationError('issuer', `issuer must be an http(s) URL without query or fragment, got "${String(issuer)}"`);
  }
  return String(issuer);
}

/** "/oauth" form: leading slash, no trailing slash ("" for the root). */
function normalizeMountPath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed !== '' && !trimmed.startsWith('/')) throw new ConfigurationError('mountPath', `mountPath must start with "/", got "${path}"`);
  return trimmed;
}

function checkLifetime(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_TOKEN_TTL_SECONDS) {
    throw new ConfigurationError('tokenLifetime', `tokenLifetime must be a whole number of seconds from 1 to ${MAX_TOKEN_TTL_SECONDS}`);
  }
  return seconds;
}

function checkAlgorithm(alg: SigningAlgorithm): SigningAlgorithm {
  if (!SIGNING_ALGORITHMS.includes(alg)) {
    throw new ConfigurationError('algorithm', `algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')}, got "${String(alg)}"`);
  }
  return alg;
}

export const isFailureThrottle = (option: ThrottleOptions | FailureThrottle): option is FailureThrottle => 'retryAfter' in option;

/** The throttle and its tarpit (none without a throttle). */
function resolveThrottle(option: CcgateOptions['throttle']): Pick<ResolvedOptions, 'throttle' | 'lockedDelayMs'> {
  if (option === false) return { throttle: undefined, lockedDelayMs: 0 };
  const lockedDelayMs = DEFAULTS.throttle.lockedDelayMs;
  if (option && isFailureThrottle(option)) return { throttle: option, lockedDelayMs };
  // A misspelt or renamed option would otherwise fall back to the default without a word.
  for (const name of Object.keys(option ?? {})) {
    if (!(name in DEFAULTS.throttle)) {
      throw new ConfigurationError(`throttle.${name}`, `throttle.${name} is not an option (known: ${Object.keys(DEFAULTS.throttle).join(', ')})`);
    }
  }
  for (const [name, value] of Object.entries(option ?? {})) {
    // Delays may be 0; limits and the window may not (a limit of 0 would refuse everybody).
    const least = name.endsWith('Ms') ? 0 : 1;
    if (!Number.isSafeInteger(value) || (value as number) < least) {
      throw new ConfigurationError(`throttle.${name}`, `throttle.${name} must be a whole number >= ${least}`);
    }
  }
  return { throttle: option ?? {}, lockedDelayMs: option?.lockedDelayMs ?? lockedDelayMs };
}

function resolveRateLimits(option: CcgateOptions['clientRateLimits']): ResolvedOptions['clientRateLimits'] {
  if (option === false) return null;
  const limits = {
    revocationsPerMinute: option?.revocationsPerMinute ?? DEFAULTS.clientRateLimits.revocationsPerMinute,
    introspectionsPerSecond: option?.introspectionsPerSecond ?? DEFAULTS.clientRateLimits.introspectionsPerSecond,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ConfigurationError(`clientRateLimits.${name}`, `clientRateLimits.${name} must be a positive whole number`);
  }
  return limits;
}

function checkAssertionLifetime(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
    throw new ConfigurationError('clientAssertionMaxLifetime', 'clientAssertionMaxLifetime must be a whole number of seconds from 1 to 3600');
  }
  return seconds;
}

/** A label per client is a time series per client: bounded, so a registry of many clients cannot swamp Prometheus. */
function checkClientLabels(count: number): number {
  if (!Number.isSafeInteger(count) || count < 0 || count > 10_000) {
    throw new ConfigurationError('metricsClientLabels', 'metricsClientLabels must be a whole number from 0 to 10000');
  }
  return count;
}

const DPOP_OPTIONS = ['nonces', 'nonceSecret', 'proofWindowSeconds'];

/** The dpop option checked: known members only, each of its type and range; the nonce secret chosen once. */
function resolveDpop(option: CcgateOptions['dpop'], keySecret: string | undefined): ResolvedOptions['dpop'] {
  if (option !== undefined && (typeof option !== 'object' || option === null)) throw new ConfigurationError('dpop', 'dpop must be an object');
  for (const name of Object.keys(option ?? {})) {
    if (!DPOP_OPTIONS.includes(name)) throw new ConfigurationError(`dpop.${name}`, `dpop.${name} is not an option (known: ${DPOP_OPTIONS.join(', ')})`);
  }
  const { nonces = false, nonceSecret, proofWindowSeconds = DEFAULTS.dpop.proofWindowSeconds } = option ?? {};
  if (typeof nonces !== 'boolean') throw new ConfigurationError('dpop.nonces', 'dpop.nonces must be true or false');
  if (!Number.isInteger(proofWindowSeconds) || proofWindowSeconds < 1 || proofWindowSeconds > 3600) {
    throw new ConfigurationError('dpop.proofWindowSeconds', 'dpop.proofWindowSeconds must be a whole number of seconds from 1 to 3600');
  }
  if (nonceSecret !== undefined) {
    if (typeof nonceSecret !== 'string' || nonceSecret.length < MIN_KEY_SECRET_LENGTH) {
      throw new ConfigurationError('dpop.nonceSecret', `dpop.nonceSecret must be a string of at least ${MIN_KEY_SECRET_LENGTH} characters`);
    }
    if (!nonces) throw new ConfigurationError('dpop.nonceSecret', 'dpop.nonceSecret is only used with dpop.nonces: true');
  }
  return { proofWindowSeconds, nonces: nonces ? dpopNonceSecret(nonceSecret, keySecret) : null };
}

/** Applies every default once and checks every value once; throws ConfigurationError naming the option. */
export function resolveOptions(options: CcgateOptions): ResolvedOptions {
  const issuer = checkIssuer(options.issuer);
  const bcryptCost = options.bcryptCost ?? DEFAULTS.bcryptCost;
  assertBcryptCost(bcryptCost);
  const jwksMaxAge = options.jwksMaxAge ?? DEFAULTS.jwksMaxAgeSeconds;
  const resolved: Omit<ResolvedOptions, 'dpop'> = {
    db: options.db,
    postgres: options.postgres,
    issuer,
    audience: options.audience ?? issuer,
    tokenLifetime: checkLifetime(options.tokenLifetime ?? DEFAULTS.tokenLifetimeSeconds),
    algorithm: checkAlgorithm(options.algorithm ?? DEFAULTS.algorithm),
    clockTolerance: options.clockTolerance,
    bcryptCost,
    bcryptWorkers: options.bcryptWorkers,
    bcryptQueue: options.bcryptQueue,
    bcryptQueuePerAddress: options.bcryptQueuePerAddress,
    realm: options.realm ?? DEFAULTS.realm,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    maxTokenLength: options.maxTokenLength ?? DEFAULTS.maxTokenLength,
    guardErrors: options.guardErrors ?? DEFAULTS.guardErrors,
    verifiedTokenCache: options.verifiedTokenCache,
    endpointsBase: `${issuer.replace(/\/$/, '')}${normalizeMountPath(options.mountPath ?? DEFAULTS.mountPath)}`,
    jwksMaxAge,
    rotationLeadSeconds: jwksMaxAge + DEFAULTS.rotationLeadMarginSeconds,
    introspectScope: options.introspectScope ?? DEFAULTS.introspectScope,
    requireHttps: options.requireHttps ?? process.env.NODE_ENV === 'production',
    ...resolveThrottle(options.throttle),
    clientRateLimits: resolveRateLimits(options.clientRateLimits),
    requireResource: options.requireResource ?? false,
    clientAssertionMaxLifetime: checkAssertionLifetime(options.clientAssertionMaxLifetime ?? DEFAULTS.clientAssertion.maxLifetimeSeconds),
    allowLoopbackHttpJwksUri: options.allowLoopbackHttpJwksUri ?? false,
    metricsClientLabels: checkClientLabels(options.metricsClientLabels ?? DEFAULTS.metricsClientLabels),
    keySecrets: resolveKeySecrets(options),
    onServerError: options.onServerError ?? (() => undefined),
  };
  // After the key secrets: the default nonce secret is derived from the current one.
  return { ...resolved, dpop: resolveDpop(options.dpop, resolved.keySecrets.keySecret) };
}
