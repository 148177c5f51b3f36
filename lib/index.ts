// The public surface of ccgate: re-exports only.
export { ccgate, type Ccgate } from './ccgate';
export type { CcgateOptions } from './options';
export { AuditEvents, type AuditEvent, type AuditEventType, type AuditEventOf } from './events';
export { MemoryFailureThrottle, type FailureThrottle, type ThrottleOptions } from './issuer';
export type { AuthInfo, Guard, GuardOptions, RemoteGuardOptions, JwksRemoteGuardOptions, IntrospectionRemoteGuardOptions, FetchLike } from './guard';
export { createGuard, remoteGuard } from './guard';
export {
  OAuthError,
  TokenEndpointError,
  BearerError,
  MissingTokenError,
  InvalidBearerRequestError,
  InvalidTokenError,
  InsufficientScopeError,
  TokenRejected,
  IssuerUnavailableError,
  HasherBusyError,
  RegistryError,
  CliError,
  ConfigurationError,
  type OAuthErrorCode,
  type OAuthErrorBody,
  type RejectionReason,
  type RegistryErrorKind,
} from './errors';
export {
  SqliteRegistry,
  type RegistryStore,
  type SqliteRegistryOptions,
  type ClientRecord,
  type ClientCredentials,
  type GroupRecord,
  type KeyRecord,
  type NewClient,
  type CreatedClient,
} from './registry';
export {
  AccessTokenVerifier,
  verifyingValidator,
  type AccessTokenClaims,
  type AccessTokenValidator,
  type SigningAlgorithm,
  type TokenStatus,
  type TokenStatusSource,
  type VerifierOptions,
} from './tokens';
