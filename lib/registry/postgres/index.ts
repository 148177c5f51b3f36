export { PostgresStorage } from './storage';
export type { PostgresOptions } from './options';
