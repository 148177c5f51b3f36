export { createTokenRouter, type IssuerConfig } from './router';
export { createMetadataRouter, buildMetadata, metadataPath, type MetadataConfig } from './metadata';
export { BcryptPool, HasherBusyError, type BcryptPoolOptions, type SecretHasher } from './bcrypt-pool';
export { SecretVerifier } from './secret-verifier';
export { oauthErrorHandler, type ErrorHandlerOptions } from './http';
export { parseBasicAuthorization, type BasicParse } from './basic';
export { parseForm } from './form';
export { DEFAULT_LOCKED_DELAY_MS, MemoryFailureThrottle, type FailureThrottle, type ThrottleOptions } from './throttle';
