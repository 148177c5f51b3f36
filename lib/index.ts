// The public surface of ccgate: re-exports only.
export { ccgate, type Ccgate } from './ccgate';
export type { CcgateOptions } from './options';
export type { GuardTelemetry, GuardRefusal, HealthOptions, NotReadyReason } from './metrics';
export { AuditEvents, type AuditEvent, type AuditEventType, type AuditEventOf } from './events';
export type { AuthAttempt, FailureThrottle, ThrottleOptions } from './issuer';
export type {
  AuthInfo,
  Guard,
  GuardOptions,
  GuardDpopOptions,
  RemoteGuardOptions,
  JwksRemoteGuardOptions,
  IntrospectionRemoteGuardOptions,
  FetchLike,
  DpopReplayStore,
  ProtectedResourceOptions,
} from './guard';
export { createGuard, remoteGuard, MemoryReplayStore, protectedResourceMetadataUrl, PROTECTED_RESOURCE_WELL_KNOWN } from './guard';
export {
  OAuthError,
  TokenEndpointError,
  BearerError,
  MissingTokenError,
  InvalidBearerRequestError,
  InvalidTokenError,
  InsufficientScopeError,
  InvalidDpopProofError,
  UseDpopNonceError,
  TokenRejected,
  AssertionRejected,
  DpopProofRejected,
  RemoteFetchError,
  IssuerUnavailableError,
  HasherBusyError,
  RegistryError,
  RegistryUnavailableError,
  RegistryFileChangedError,
  KeyProtectionError,
  CliError,
  ConfigurationError,
  type OAuthErrorCode,
  type OAuthErrorBody,
  type RejectionReason,
  type AssertionRejectionReason,
  type DpopRejectionReason,
  type RegistryErrorKind,
  type KeyProtectionFailure,
} from './errors';
export {
  Registry,
  openRegistry,
  isPostgresUrl,
  redactedDb,
  SqliteStorage,
  type RegistryOptions,
  type OpenRegistryOptions,
  type RegistryStorage,
  type KeyStorage,
  type SqliteOptions,
  type ClientRecord,
  type ClientCredentials,
  type GroupRecord,
  type KeyRecord,
  type RewrapResult,
  type NewClient,
  type CreatedClient,
  type ClientAuthMethod,
  type ClientKeysSource,
  type ResourceRecord,
} from './registry';
export { PostgresStorage, type PostgresOptions } from './registry/postgres';
export {
  AccessTokenVerifier,
  verifyingValidator,
  type AccessTokenClaims,
  type AccessTokenValidator,
  type SigningAlgorithm,
  type TokenStatus,
  type TokenStatusSource,
  type VerifierOptions,
  type ClientJwks,
} from './tokens';
