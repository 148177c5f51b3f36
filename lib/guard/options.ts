import { DEFAULTS } from '../defaults';
import { ConfigurationError } from '../errors';
import type { AuditEvents } from '../events';
import { NO_TELEMETRY, type GuardTelemetry } from '../metrics/telemetry';
import { DEFAULT_ALGORITHMS, DpopNonces, htuOf, type SigningAlgorithm, type VerifiedCacheOptions, type VerifierOptions } from '../tokens';
import type { DpopGuardConfig, DpopReplayStore } from './dpop';
import type { FetchLike } from './http-json';
import type { IntrospectionOptions } from './remote-introspection';
import type { RemoteJwksOptions } from './remote-jwks';
import { MemoryReplayStore } from './memory-replay';
import { resolveProtectedResource, type ProtectedResourceMetadata, type ProtectedResourceOptions } from './resource-metadata';

/** DPoP at the resource server (RFC 9449 §7, §9). Bound tokens are always checked; these shape the rest. */
export interface GuardDpopOptions {
  /** Accept DPoP-bound tokens only; a bearer token is then invalid_token (default false). */
  required?: boolean;
  /** The public origin clients call, e.g. "https://api.example.com", used for the proof's htu; default the request's own (set Express's `trust proxy` behind a TLS-terminating proxy). */
  publicBaseUrl?: string;
  /** How far a proof's iat may lie from now, in seconds (default 60). */
  proofWindowSeconds?: number;
  /** Resource-server nonces (RFC 9449 §9), keyed by this secret (at least 16 bytes; instances with the same secret share them). Default: none. */
  nonceSecret?: string;
  /** Where proof ids are remembered: default the registry (local guard) or this process's memory (remoteGuard). */
  replay?: DpopReplayStore;
}

export interface GuardOptions {
  /** RFC 6750 §3 realm in WWW-Authenticate (default "ccgate"). */
  realm?: string;
  /**
   * 'respond' (default): the guard answers errors itself, RFC 6750 §3 status, WWW-Authenticate and
   * JSON body. 'next': it passes them to `next(err)` (OAuthError instances) for the app's own error
   * middleware; ccgate's `errorHandler` answers them the same way as 'respond'.
   */
  errors?: 'respond' | 'next';
  /** Audit events (token.rejected, scope.denied); default none. */
  events?: AuditEvents;
  /** Where each decision is counted (ccgate() passes its metrics); default nowhere. */
  telemetry?: GuardTelemetry;
  /** DPoP-bound tokens (RFC 9449): see GuardDpopOptions. */
  dpop?: GuardDpopOptions;
  /**
   * RFC 9728: what this API says about itself. Given, guard.protectedResourceMetadata() serves it at
   * /.well-known/oauth-protected-resource (+ the resource's path), and every challenge names it (§5.1).
   */
  protectedResource?: ProtectedResourceOptions;
}

/** What the guard runs with: every default applied. */
export interface ResolvedGuardOptions {
  realm: string;
  errors: 'respond' | 'next';
  events?: AuditEvents;
  telemetry: GuardTelemetry;
  dpop: DpopGuardConfig;
  protectedResource: ProtectedResourceMetadata | null;
}

/**
 * `issuer`: the authorization server the metadata names by default (the local guard's, or remoteGuard's);
 * `dpopOption`: what errors call the dpop options (ccgate() names them guardDpop).
 */
export function resolveGuardOptions(options: GuardOptions, issuer?: string, dpopOption = 'dpop'): ResolvedGuardOptions {
  const errors = options.errors ?? DEFAULTS.guardErrors;
  if (errors !== 'respond' && errors !== 'next') throw new ConfigurationError('errors', `errors must be 'respond' or 'next', got "${String(errors)}"`);
  const dpop = resolveDpop(options.dpop ?? {}, dpopOption);
  return {
    realm: options.realm ?? DEFAULTS.realm,
    errors,
    events: options.events,
    telemetry: options.telemetry ?? NO_TELEMETRY,
    dpop,
    protectedResource: options.protectedResource ? resolveProtectedResource(options.protectedResource, { issuer, dpopRequired: dpop.required }) : null,
  };
}

function resolveDpop(options: GuardDpopOptions, name: string): DpopGuardConfig {
  const base = options.publicBaseUrl;
  if (base !== undefined && (htuOf(base) === null || new URL(base).pathname !== '/' || base.endsWith('/'))) {
    throw new ConfigurationError(
      `${name}.publicBaseUrl`,
      `${name}.publicBaseUrl must be an origin such as https://api.example.com (no path, no trailing slash)`,
    );
  }
  return {
    required: options.required ?? false,
    nonces: options.nonceSecret === undefined ? null : new DpopNonces({ secret: options.nonceSecret }),
    publicBaseUrl: base ?? null,
    windowSeconds: seconds(`${name}.proofWindowSeconds`, options.proofWindowSeconds ?? DEFAULTS.dpop.proofWindowSeconds),
    clockToleranceSeconds: DEFAULTS.clockToleranceSeconds,
    maxProofLength: DEFAULTS.dpop.maxProofLength,
    replay: options.replay ?? new MemoryReplayStore(),
  };
}

interface RemoteGuardBase extends GuardOptions {
  /** The issuer's identifier, exactly as in its tokens' `iss` and its metadata. */
  issuer: string;
  /** This API's audience: tokens must name it in `aud`. */
  audience: string | string[];
  /** Timeout of each call to the issuer in ms (default 5000). */
  timeoutMs?: number;
  /** Longest token read, in characters (default 4096): longer ones are refused before any network call. */
  maxTokenLength?: number;
  /** fetch implementation (default the global fetch). */
  fetch?: FetchLike;
}

/** Verify signatures locally with the issuer's published keys (RFC 7517 JWKS). */
export interface JwksRemoteGuardOptions extends RemoteGuardBase {
  mode?: 'jwks';
  /** Key set URL; default discovered from the issuer's RFC 8414 metadata. */
  jwksUri?: string;
  /**
   * Window bounding the key set fetches unknown kids cause (default 30 s): at most 3 per window, and
   * after a failed fetch none until it has passed.
   */
  jwksCooldown?: number;
  /** Least seconds between the last fetch and one an unknown kid causes (default 1; at most the cooldown). */
  jwksRefetchInterval?: number;
  /** Seconds after which the key set is refreshed (default 600). */
  jwksMaxAge?: number;
  /** Accepted algorithms (default RS256, ES256). */
  algorithms?: SigningAlgorithm[];
  /** Seconds of clock skew allowed (default 5). */
  clockTolerance?: number;
  /** Cache of verified tokens. */
  verifiedTokenCache?: VerifiedCacheOptions;
  clientId?: never;
  clientSecret?: never;
  introspectionEndpoint?: never;
  introspectionCacheSeconds?: never;
}

/** Ask the issuer about each token (RFC 7662 introspection). */
export interface IntrospectionRemoteGuardOptions extends RemoteGuardBase {
  mode: 'introspection';
  /** This service's client id and secret at the issuer (it needs the introspection scope). */
  clientId: string;
  clientSecret: string;
  /** Endpoint URL; default discovered from the issuer's metadata. */
  introspectionEndpoint?: string;
  /** Seconds a positive answer is reused (default 30, never past exp; 0 = ask every time). */
  introspectionCacheSeconds?: number;
  /** Seconds an inactive answer is reused, keyed by a hash of the token (default 10; 0 = ask every time). */
  introspectionNegativeCacheSeconds?: number;
  jwksUri?: never;
  jwksCooldown?: never;
  jwksRefetchInterval?: never;
  jwksMaxAge?: never;
  algorithms?: never;
  clockTolerance?: never;
  verifiedTokenCache?: never;
}

/** The remote guard's options: one mode or the other, never a mix (a mix is a type error). */
export type RemoteGuardOptions = JwksRemoteGuardOptions | IntrospectionRemoteGuardOptions;

export type ResolvedRemoteGuardOptions =
  { mode: 'jwks'; keys: RemoteJwksOptions; verifier: VerifierOptions } | { mode: 'introspection'; introspection: IntrospectionOptions };

/** A number of seconds ≥ 0, or a ConfigurationError naming the option. */
function seconds(option: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) throw new ConfigurationError(option, `${option} must be a number of seconds >= 0`);
  return value;
}

/** The validator side of the remote guard's options (the guard side goes through resolveGuardOptions). */
export function resolveRemoteGuardOptions(options: RemoteGuardOptions): ResolvedRemoteGuardOptions {
  const timeoutMs = options.timeoutMs ?? DEFAULTS.remote.timeoutMs;
  const fetchImpl = options.fetch ?? fetch;
  if (options.mode === 'introspection') {
    // Checked at run time too: JavaScript callers have no type checker.
    if (!options.clientId || !options.clientSecret) {
      throw new ConfigurationError('clientId', 'introspection mode needs clientId and clientSecret');
    }
    const introspection: IntrospectionOptions = {
      issuer: options.issuer,
      audience: options.audience,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      introspectionEndpoint: options.introspectionEndpoint,
      cacheSeconds: options.introspectionCacheSeconds ?? DEFAULTS.remote.introspectionCacheSeconds,
      negativeCacheSeconds: options.introspectionNegativeCacheSeconds ?? DEFAULTS.remote.introspectionNegativeCacheSeconds,
      maxTokenLength: options.maxTokenLength ?? DEFAULTS.maxTokenLength,
      timeoutMs,
      fetch: fetchImpl,
    };
    return { mode: 'introspection', introspection };
  }
  const algorithms = options.algorithms ?? [...DEFAULT_ALGORITHMS];
  const keys: RemoteJwksOptions = {
    issuer: options.issuer,
    jwksUri: options.jwksUri,
    algorithms,
    cooldownSeconds: options.jwksCooldown ?? DEFAULTS.remote.jwksCooldownSeconds,
    refetchIntervalSeconds: seconds('jwksRefetchInterval', options.jwksRefetchInterval ?? DEFAULTS.remote.jwksRefetchIntervalSeconds),
    maxAgeSeconds: options.jwksMaxAge ?? DEFAULTS.remote.jwksMaxAgeSeconds,
    timeoutMs,
    fetch: fetchImpl,
  };
  const verifier: VerifierOptions = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms,
    clockToleranceSeconds: options.clockTolerance,
    maxTokenLength: options.maxTokenLength,
    cache: options.verifiedTokenCache,
  };
  return { mode: 'jwks', keys, verifier };
}
