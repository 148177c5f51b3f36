export { SqliteRegistry, type SqliteRegistryOptions } from './sqlite-registry';
export type { RegistryStore } from './store';
export { MAX_TOKEN_TTL_SECONDS } from './clients';
export { MAX_SECRET_BYTES, MIN_SECRET_BYTES } from './secrets';
export * from './types';
// The CLI and user code name algorithms through the registry, which generates the keys.
export { SIGNING_ALGORITHMS, type SigningAlgorithm, type PublicJwk, type TokenStatus } from '../tokens';
