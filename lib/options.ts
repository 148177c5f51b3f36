import { DEFAULTS } from './defaults';
import { ConfigurationError } from './errors';
import { resolveKeySecrets } from './key-secrets';
import type { GuardOptions } from './guard';
import type { FailureThrottle, ThrottleOptions } from './issuer';
import { MAX_TOKEN_TTL_SECONDS, type KeySecrets, type PostgresOptions, type RegistryStorage } from './registry';
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
  metricsClientLabels: number;
  /** The key secrets, from the options or the environment; no current one only when allowed. */
  keySecrets: KeySecrets;
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

/** A label per client is a time series per client: bounded, so a registry of many clients cannot swamp Prometheus. */
function checkClientLabels(count: number): number {
  if (!Number.isSafeInteger(count) || count < 0 || count > 10_000) {
    throw new ConfigurationError('metricsClientLabels', 'metricsClientLabels must be a whole number from 0 to 10000');
  }
  return count;
}

/** Applies every default once and checks every value once; throws ConfigurationError naming the option. */
export function resolveOptions(options: CcgateOptions): ResolvedOptions {
  const issuer = checkIssuer(options.issuer);
  const bcryptCost = options.bcryptCost ?? DEFAULTS.bcryptCost;
  assertBcryptCost(bcryptCost);
  const jwksMaxAge = options.jwksMaxAge ?? DEFAULTS.jwksMaxAgeSeconds;
  return {
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
    metricsClientLabels: checkClientLabels(options.metricsClientLabels ?? DEFAULTS.metricsClientLabels),
    keySecrets: resolveKeySecrets(options),
    onServerError: options.onServerError ?? (() => undefined),
  };
}
