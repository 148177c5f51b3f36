// The public surface of ccgate: re-exports only.
export { ccgate, type Ccgate, type CcgateOptions } from './ccgate';
export { AuditEvents, type AuditEvent, type AuditEventType, type AuditEventOf } from './events';
export { MemoryFailureThrottle, type FailureThrottle, type ThrottleOptions } from './issuer';
export type { AuthInfo, Guard, GuardOptions, RemoteGuardOptions, FetchLike } from './guard';
export { createGuard, remoteGuard, IssuerUnavailableError } from './guard';
export {
  OAuthError,
  TokenEndpointError,
  BearerError,
  MissingTokenError,
  InvalidBearerRequestError,
  InvalidTokenError,
  InsufficientScopeError,
  type OAuthErrorCode,
  type OAuthErrorBody,
} from './errors';
export {
  SqliteRegistry,
  RegistryError,
  type RegistryStore,
  type SqliteRegistryOptions,
  type ClientRecord,
  type ClientCredentials,
  type GroupRecord,
  type KeyRecord,
  type NewClient,
  type CreatedClient,
  type TokenStatus,
  type SigningAlgorithm,
} from './registry';
export {
  AccessTokenVerifier,
  TokenRejected,
  verifyingValidator,
  type AccessTokenClaims,
  type AccessTokenValidator,
  type TokenStatusSource,
  type VerifierOptions,
} from './tokens';
