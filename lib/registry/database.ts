import Database from 'better-sqlite3';
import { DEFAULTS } from '../defaults';
import { migrate } from './schema';

export interface OpenOptions {
  /** Milliseconds a write waits for another process's lock before failing (default 5000). */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) the registry file: WAL so readers never block the writer and a crash
 * loses no committed write, a busy timeout so the CLI and the server share the file, foreign keys on.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Database.Database {
  const db = new Database(path, { timeout: options.busyTimeoutMs ?? DEFAULTS.sqliteBusyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    // FULL: an acknowledged write survives power loss, not only a process crash.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (err) {
    // A refused file (e.g. a newer schema) must not stay open: nobody holds the handle to close it.
    db.close();
    throw err;
  }
  return db;
}
