import Database from 'better-sqlite3';
import { DEFAULTS } from '../../defaults';
import { unavailableIfBusy } from './errors';
import { createPrivately, RegistryFiles, warnIfExposed } from './files';
import { migrate } from './schema';

/** The files each open connection was opened on, watched for replacement (files.ts). */
const openedFiles = new WeakMap<Database.Database, RegistryFiles>();

/** Reads trust a file check this recent: a stat pair per second on the hot path, not per query. */
const READ_CHECK_INTERVAL_MS = 1000;

export interface SqliteOptions {
  /** Milliseconds a write waits for another process's lock before RegistryUnavailableError (default 5000). */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed, mode 0600) the registry file and migrates it: WAL so readers never block
 * the writer, synchronous FULL so an acknowledged write survives power loss, a busy timeout so the
 * CLI and any number of servers share the file, foreign keys on (memberships and secrets go with
 * their client or group). From then on the files are watched for replacement (see files.ts).
 */
export function openDatabase(path: string, options: SqliteOptions = {}): Database.Database {
  createPrivately(path);
  const db = new Database(path, { timeout: options.busyTimeoutMs ?? DEFAULTS.sqliteBusyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    // Once it is known to be a registry: a file that is not a database gets one error, not a warning too.
    warnIfExposed(path);
    const files = RegistryFiles.capture(path);
    if (files) openedFiles.set(db, files);
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

/** The watch on `db`'s files; undefined for a database without a file. */
export const filesOf = (db: Database.Database): RegistryFiles | undefined => openedFiles.get(db);

/** Runs read-only work, refusing it once the files were found replaced (checked at most once a second). */
export function read<T>(db: Database.Database, work: () => T): Promise<T> {
  return settle(() => {
    openedFiles.get(db)?.assertIntact(READ_CHECK_INTERVAL_MS);
    return work();
  });
}

/**
 * Runs `work` in one IMMEDIATE transaction: taking the write lock up front avoids a read-to-write
 * upgrade failing halfway. The files are checked before (no write to a replaced file) and after
 * (a replacement during the write: the commit went where nobody reads it, so it is not acknowledged).
 */
export function inTransaction<T>(db: Database.Database, work: () => T): Promise<T> {
  return settle(() => {
    const files = openedFiles.get(db);
    files?.assertIntact();
    const result = db.transaction(work).immediate();
    files?.assertIntact();
    return result;
  });
}
