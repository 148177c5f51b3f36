import type * as PostgresModule from './postgres';
import type { PostgresOptions } from './postgres';
import { Registry, type RegistryOptions } from './registry';
import { SqliteStorage, type SqliteOptions } from './sqlite';
import type { RegistryStorage } from './storage';

export interface OpenRegistryOptions extends RegistryOptions {
  /** Settings of the PostgreSQL backend, used when `db` is a postgres:// URL. */
  postgres?: PostgresOptions;
  /** Settings of the SQLite backend, used when `db` is a file path. */
  sqlite?: SqliteOptions;
}

/** postgres:// and postgresql:// URLs name a PostgreSQL database; anything else is a SQLite file path. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** A `db` value fit for messages and logs: a URL's password replaced by ***. */
export function redactedDb(db: string): string {
  if (!isPostgresUrl(db)) return db;
  try {
    const url = new URL(db);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/**
 * The PostgreSQL storage, loaded on first use: the pg driver costs some 60 ms of startup, which a CLI
 * command on a SQLite file should not pay.
 */
function postgresStorage(url: string, options: PostgresOptions | undefined): RegistryStorage {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load, see above
  const { PostgresStorage } = require('./postgres') as typeof PostgresModule;
  return new PostgresStorage(url, options);
}

/** The storage a `db` value names: switching backends is changing that one value. */
export function openStorage(db: string, options: Pick<OpenRegistryOptions, 'postgres' | 'sqlite'> = {}): RegistryStorage {
  return isPostgresUrl(db) ? postgresStorage(db, options.postgres) : new SqliteStorage(db, options.sqlite);
}

/** A Registry over the storage `db` names (a SQLite file path or a postgres:// URL), or over a storage of your own. */
export function openRegistry(db: string | RegistryStorage, options: OpenRegistryOptions = {}): Registry {
  if (typeof db !== 'string') return new Registry(db, options);
  const storage = openStorage(db, options);
  try {
    return new Registry(storage, options);
  } catch (err) {
    // A refused option (say, the bcrypt cost) must not leave the file or the pool open.
    void storage.close().catch(() => undefined);
    throw err;
  }
}
