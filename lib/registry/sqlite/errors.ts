import { RegistryUnavailableError } from '../../errors';

/** SQLITE_BUSY, SQLITE_LOCKED and their extended codes (SQLITE_BUSY_SNAPSHOT, ...). */
const LOCK_CODES = /^SQLITE_(BUSY|LOCKED)(_|$)/;

/**
 * Another process held the lock past the busy timeout: the registry is unavailable for now, not
 * broken, so callers answer 503 and the next request may succeed. Anything else is returned as is.
 * The code is read without `instanceof`: better-sqlite3's native part keeps the SqliteError class of
 * the first realm that loaded it (jest gives each test file its own).
 */
export function unavailableIfBusy(err: unknown): Error {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && LOCK_CODES.test(code)) {
    return new RegistryUnavailableError(`the registry file is locked by another process (${code})`, 1, { cause: err });
  }
  return err as Error;
}
