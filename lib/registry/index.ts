export { SqliteRegistry, type SqliteRegistryOptions } from './sqlite-registry';
export type { RegistryStore } from './store';
export { RegistryError, type RegistryErrorKind } from './errors';
export { MAX_TOKEN_TTL_SECONDS } from './clients';
export { MAX_SECRET_BYTES, MIN_SECRET_BYTES, DEFAULT_BCRYPT_COST } from './secrets';
export * from './types';
