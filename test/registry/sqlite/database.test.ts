import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RegistryUnavailableError } from '../../../lib/errors';
import { openDatabase } from '../../../lib/registry/sqlite/database';
import { unavailableIfBusy } from '../../../lib/registry/sqlite/errors';
import { tempDir, tempRegistry, type TempRegistry } from '../../support/temp';

describe('SQLite registry file: pragmas of the connection', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('ccgate-pragma-'));
  });
  afterEach(() => cleanup());

  test('WAL (readers never block the writer), synchronous FULL (2), foreign keys on, busy timeout 5000 ms by default', () => {
    const db = openDatabase(join(dir, 'r.db'));
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2);
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    } finally {
      db.close();
    }
  });

  test('busy_timeout follows busyTimeoutMs', () => {
    const db = openDatabase(join(dir, 'r.db'), { busyTimeoutMs: 1234 });
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
    db.close();
  });

  test('the file is in WAL mode for every other connection too', () => {
    openDatabase(join(dir, 'r.db')).close();
    const other = new Database(join(dir, 'r.db'), { readonly: true });
    expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
    other.close();
  });
});

describe('SQLite registry file: a lock held past the busy timeout', () => {
  let t: TempRegistry;
  let holder: Database.Database;
  beforeEach(async () => {
    t = tempRegistry({ busyTimeoutMs: 30 });
    await t.registry.createGroup('g', ['a']);
    // Another process in the middle of a long write.
    holder = new Database(t.path);
    holder.exec('BEGIN IMMEDIATE');
  });
  afterEach(async () => {
    if (holder.inTransaction) holder.exec('ROLLBACK');
    holder.close();
    await t.cleanup();
  });

  test('a write rejects with RegistryUnavailableError (503, retry soon), carrying the SQLite error as its cause', async () => {
    const err = await t.registry.createGroup('h', ['a']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryUnavailableError);
    expect(err).toMatchObject({ retryAfterSeconds: 1, cause: expect.objectContaining({ code: 'SQLITE_BUSY' }) });
    await expect(t.registry.revokeToken({ jti: 'j', expiresAt: t.clock.t + 60 })).rejects.toBeInstanceOf(RegistryUnavailableError);
    await expect(t.registry.useOnce('dpop', 'j', t.clock.t + 60)).rejects.toBeInstanceOf(RegistryUnavailableError);
    await expect(t.registry.pruneExpired()).rejects.toBeInstanceOf(RegistryUnavailableError);
  });

  test('the throttle rejects with RegistryUnavailableError too', async () => {
    const limiter = t.registry.limiter({ keyPrefix: 'busy', points: 3, durationSeconds: 60, blockDurationSeconds: 60 });
    await expect(limiter.consume('k')).rejects.toBeInstanceOf(RegistryUnavailableError);
  });

  test('reads still answer (WAL), and writes work again once the lock is released', async () => {
    expect((await t.registry.getGroup('g'))?.scopes).toEqual(['a']);
    await expect(t.registry.ping()).resolves.toBeUndefined();
    holder.exec('ROLLBACK');
    await expect(t.registry.createGroup('h', ['a'])).resolves.toMatchObject({ name: 'h' });
  });
});

describe('SQLite errors', () => {
  test.each([['SQLITE_BUSY'], ['SQLITE_BUSY_SNAPSHOT'], ['SQLITE_LOCKED'], ['SQLITE_LOCKED_SHAREDCACHE']])('%s becomes RegistryUnavailableError', (code) => {
    const err = Object.assign(new Error('locked'), { code });
    expect(unavailableIfBusy(err)).toBeInstanceOf(RegistryUnavailableError);
  });

  test.each([['SQLITE_CONSTRAINT_PRIMARYKEY'], ['SQLITE_CORRUPT'], ['SQLITE_BUSYNESS'], [undefined]])('%s propagates unchanged', (code) => {
    const err = Object.assign(new Error('other'), { code });
    expect(unavailableIfBusy(err)).toBe(err);
  });
});
