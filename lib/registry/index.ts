export { Registry, type RegistryOptions, type RevocationContext } from './registry';
export { openRegistry, openStorage, isPostgresUrl, redactedDb, type OpenRegistryOptions } from './open';
export type * from './storage';
export { SqliteStorage, type SqliteOptions } from './sqlite';
// PostgresStorage itself is exported by lib/index.ts: loading it here would load pg for every CLI command.
export type { PostgresOptions } from './postgres';
export { MAX_TOKEN_TTL_SECONDS, MAX_SECRET_BYTES, MIN_SECRET_BYTES } from './rules';
export { KEY_REMOVAL_MARGIN_SECONDS, KEY_USE_GRANULARITY_SECONDS } from './key-lifecycle';
export { KeyProtector, keySecretIdOf, keySecretsFromEnv, MIN_KEY_SECRET_LENGTH, type KeySecrets } from './key-protection';
export * from './types';
// The CLI and user code name algorithms through the registry, which generates the keys.
export { SIGNING_ALGORITHMS, type SigningAlgorithm, type PublicJwk } from '../tokens/jwk';
export type { TokenStatus } from '../tokens';
