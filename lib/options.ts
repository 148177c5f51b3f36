import { DEFAULTS } from './defaults';
import { ConfigurationError } from './errors';
import type { GuardOptions } from './guard';
import type { FailureThrottle, ThrottleOptions } from './issuer';
import { MAX_TOKEN_TTL_SECONDS, type PostgresOptions, type RegistryStorage } from './registry';
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
  realm: string;
  maxBodyBytes: number;
  maxTokenLength?: number;
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
  return { throttle: option ?? {}, lockedDelayMs: option?.lockedDelayMs ?? lockedDelayMs };
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
    realm: options.realm ?? DEFAULTS.realm,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    maxTokenLength: options.maxTokenLength,
    guardErrors: options.guardErrors ?? DEFAULTS.guardErrors,
    verifiedTokenCache: options.verifiedTokenCache,
    endpointsBase: `${issuer.replace(/\/$/, '')}${normalizeMountPath(options.mountPath ?? DEFAULTS.mountPath)}`,
    jwksMaxAge,
    rotationLeadSeconds: jwksMaxAge + DEFAULTS.rotationLeadMarginSeconds,
    introspectScope: options.introspectScope ?? DEFAULTS.introspectScope,
    requireHttps: options.requireHttps ?? process.env.NODE_ENV === 'production',
    ...resolveThrottle(options.throttle),
    onServerError: options.onServerError ?? (() => undefined),
  };
}
