export { createTokenRouter, type IssuerConfig } from './router';
export { createMetadataRouter, type MetadataConfig } from './metadata';
export { BcryptPool, type BcryptPoolOptions, type SecretHasher } from './bcrypt-pool';
export { SecretVerifier } from './secret-verifier';
export { oauthErrorHandler, type ErrorHandlerOptions } from './http';
export { parseForm } from './form';
export { LimiterThrottle, type AuthAttempt, type FailureThrottle, type LimiterFactory, type ThrottleOptions } from './throttle';
