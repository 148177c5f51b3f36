/**
 * What each part of ccgate reports for metrics, as narrow interfaces: a part is handed only the one it
 * needs, and knows nothing of Prometheus (the guard and the tokens code load no metrics library). The
 * no-op implementations below are the defaults, so a part built on its own reports nowhere.
 */
import type { RejectionReason } from '../errors';

/** A bounded cache's lookups: hits and misses give its hit ratio. */
export interface CacheTelemetry {
  lookup(hit: boolean): void;
}

/** The caches whose hit ratios are reported (the `cache` label). */
export const CACHE_NAMES = ['verified_tokens', 'token_statuses', 'client_credentials', 'secrets'] as const;
export type CacheName = (typeof CACHE_NAMES)[number];

/**
 * Why the guard refused a request. Each reason belongs to exactly one outcome (GUARD_OUTCOMES): a
 * TokenRejected reason is a rejected token, the others are named here.
 */
export type GuardRefusal =
  | RejectionReason
  | 'missing_token'
  | 'invalid_request'
  /** RFC 9449: a bad DPoP proof; a bound token without its proof, or sent as Bearer; an unbound one where DPoP is required or sent as DPoP. */
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'dpop_binding'
  | 'insufficient_scope'
  | 'issuer_unavailable'
  | 'registry_unavailable'
  | 'server_error';

/** The guard's decisions: one call per guarded request. */
export interface GuardTelemetry {
  /** The request goes on to the route. The hot path: implementations count with one increment. */
  guardAccepted(): void;
  guardRefused(reason: GuardRefusal): void;
}

/** The token router: latency of POST /token, by the status it answered. */
export interface IssuerTelemetry {
  tokenEndpointLatency(seconds: number, status: number): void;
}

/** The bcrypt pool: how long a check waited for a worker. */
export interface BcryptTelemetry {
  bcryptWaited(seconds: number): void;
}

/** Why a storage call failed: the database is unreachable (RegistryUnavailableError), or anything else. */
export type RegistryFailure = 'unavailable' | 'fault';

/** The registry: its two read caches, and its storage calls that failed. */
export interface RegistryTelemetry {
  readonly tokenStatusCache: CacheTelemetry;
  readonly clientCredentialsCache: CacheTelemetry;
  /** `operation` names the storage call (e.g. "clients.credentials", "ping"). */
  registryError(operation: string, kind: RegistryFailure): void;
}

/** Why client authentication failed (the client.auth_failed event's reasons). */
export type ClientAuthFailure = 'invalid_credentials' | 'malformed' | 'missing';

/** Everything ccgate reports; ccgate() builds one and hands each part its slice. */
export interface Telemetry extends GuardTelemetry, IssuerTelemetry, BcryptTelemetry, RegistryTelemetry {
  readonly verifiedTokenCache: CacheTelemetry;
  readonly secretCache: CacheTelemetry;
  tokenIssued(alg: string, clientId: string): void;
  clientAuthFailed(reason: ClientAuthFailure): void;
  /** A throttled client was answered (the throttle's lock, not a wrong secret). */
  throttled(): void;
}

const ignore = (): void => undefined;

export const NO_CACHE_TELEMETRY: CacheTelemetry = { lookup: ignore };

/** Reports nowhere. */
export const NO_TELEMETRY: Telemetry = {
  verifiedTokenCache: NO_CACHE_TELEMETRY,
  secretCache: NO_CACHE_TELEMETRY,
  tokenStatusCache: NO_CACHE_TELEMETRY,
  clientCredentialsCache: NO_CACHE_TELEMETRY,
  guardAccepted: ignore,
  guardRefused: ignore,
  tokenEndpointLatency: ignore,
  bcryptWaited: ignore,
  registryError: ignore,
  tokenIssued: ignore,
  clientAuthFailed: ignore,
  throttled: ignore,
};
