/**
 * The failure throttle's counters as they sit in a SQLite registry file, read from outside through a
 * connection of the test's own: rate-limiter-flexible's rows `<family>:<key>` with their points.
 */
import Database from 'better-sqlite3';
import { authAttempt } from '../../lib/issuer/throttle';

export interface ThrottleRow {
  key: string;
  points: number;
}

/** Every row of the throttle table of the registry file at `dbPath`. */
export function throttleRows(dbPath: string): ThrottleRow[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], ThrottleRow>('SELECT key, points FROM throttle').all();
  } finally {
    db.close();
  }
}

/** Failures counted for a client id from all addresses (the slowdown's counter); 0 without a row. */
export function clientFailures(dbPath: string, clientId: string): number {
  const key = `ccgate-fail-client:${authAttempt(clientId, '').client}`;
  return throttleRows(dbPath).find((row) => row.key === key)?.points ?? 0;
}
