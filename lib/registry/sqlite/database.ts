import Database from 'better-sqlite3';
import { DEFAULTS } from '../../defaults';
import { unavailableIfBusy } from './errors';
import { migrate } from './schema';

export interface SqliteOptions {
  /** Milliseconds a write waits for another process's lock before RegistryUnavailableError (default 5000). */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) the registry file and migrates it: WAL so readers never block the
 * writer, synchronous FULL so an acknowledged write survives power loss, a busy timeout so the CLI
 * and any number of servers share the file, foreign keys on (memberships and secrets go with their
 * client or group).
 */
export function openDatabase(path: string, options: SqliteOptions = {}): Database.Database {
  const db = new Database(path, { timeout: options.busyTimeoutMs ?? DEFAULTS.sqliteBusyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (err) {
    // A refused file (e.g. a newer schema) must not stay open: nobody holds the handle to close it.
    db.close();
    throw unavailableIfBusy(err);
  }
  return db;
}

/** Runs synchronous better-sqlite3 work and settles a Promise with its result or its error. */
export function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(unavailableIfBusy(err));
  }
}

/** Runs `work` in one IMMEDIATE transaction: taking the write lock up front avoids a read-to-write upgrade failing halfway. */
export function inTransaction<T>(db: Database.Database, work: () => T): Promise<T> {
  return settle(() => db.transaction(work).immediate());
}
