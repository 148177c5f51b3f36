export { SqliteStorage } from './sqlite-storage';
export type { SqliteOptions } from './database';
