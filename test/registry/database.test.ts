import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteRegistry } from '../../lib';
import { MIGRATIONS, SCHEMA_VERSION, migrate } from '../../lib/registry/schema';
import { openFdsOn, tempDir, tempRegistry, type TempRegistry } from '../support/temp';

describe('registry file: pragmas', () => {
  let t: TempRegistry;
  beforeEach(() => {
    t = tempRegistry();
  });
  afterEach(() => t.cleanup());

  test('journal_mode is WAL, so readers never block the writer', () => {
    expect(t.registry.db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  test('foreign_keys is on for the connection', () => {
    expect(t.registry.db.pragma('foreign_keys', { simple: true })).toBe(1);
  });

  test('busy_timeout defaults to 5000 ms and follows busyTimeoutMs', () => {
    expect(t.registry.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    const other = t.reopen({ busyTimeoutMs: 1234 });
    expect(other.db.pragma('busy_timeout', { simple: true })).toBe(1234);
  });

  test('synchronous is FULL (2)', () => {
    expect(t.registry.db.pragma('synchronous', { simple: true })).toBe(2);
  });

  test('a fresh file is at the current schema version', () => {
    expect(t.registry.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  test('opening the file again does not re-run migrations and keeps data', async () => {
    await t.registry.createGroup('readers', ['reports:read']);
    await t.registry.close();
    const again = t.reopen();
    expect(again.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(await again.getGroup('readers')).toMatchObject({ name: 'readers', scopes: ['reports:read'] });
  });
});

describe('registry file: migrations (PRAGMA user_version)', () => {
  let dir: string;
  let cleanup: () => void;
  let path: string;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('ccgate-mig-'));
    path = join(dir, 'old.db');
  });
  afterEach(() => cleanup());

  test('a file at version 0 holding unrelated data is upgraded, and its data kept', async () => {
    const raw = new Database(path);
    raw.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me');");
    expect(raw.pragma('user_version', { simple: true })).toBe(0);
    raw.close();

    const registry = new SqliteRegistry(path, { bcryptCost: 4 });
    try {
      expect(registry.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(registry.db.prepare('SELECT body FROM notes').pluck().all()).toEqual(['keep me']);
      // The upgraded file is usable.
      await registry.createGroup('g', ['a']);
      const { client } = await registry.createClient({ name: 'c', groups: ['g'] });
      expect(client.scopes).toEqual(['a']);
    } finally {
      await registry.close();
    }
  });

  test('a file written by an older ccgate (fewer migrations) is brought up to date, in order', () => {
    // Pretend the current schema is an old one and a later release adds one more migration.
    const next = [...MIGRATIONS, 'CREATE TABLE audit_log (id INTEGER PRIMARY KEY, what TEXT NOT NULL);'];
    const db = new Database(path);
    migrate(db, MIGRATIONS.slice(0, MIGRATIONS.length));
    db.prepare('INSERT INTO groups (name, created_at) VALUES (?, ?)').run('old-group', 1);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);

    migrate(db, next);
    expect(db.pragma('user_version', { simple: true })).toBe(next.length);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'audit_log'").pluck().get()).toBe('audit_log');
    expect(db.prepare('SELECT name FROM groups').pluck().all()).toEqual(['old-group']);
    // Running again is a no-op (a re-run of a CREATE TABLE would throw).
    expect(() => migrate(db, next)).not.toThrow();
    db.close();
  });

  test('migrate(db, MIGRATIONS.slice(0, 0)) leaves version 0; opening the registry then upgrades it', async () => {
    const db = new Database(path);
    migrate(db, MIGRATIONS.slice(0, 0));
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    db.close();
    const registry = new SqliteRegistry(path, { bcryptCost: 4 });
    expect(registry.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    await registry.close();
  });

  test('a failing migration step rolls back entirely: version and schema unchanged', () => {
    const db = new Database(path);
    migrate(db, MIGRATIONS);
    const broken = [...MIGRATIONS, 'CREATE TABLE half_done (x); THIS IS NOT SQL;'];
    expect(() => migrate(db, broken)).toThrow();
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").pluck().get()).toBe(0);
    db.close();
  });

  test('a file with a NEWER user_version is refused with a clear error, and left untouched', () => {
    const db = new Database(path);
    migrate(db, MIGRATIONS);
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    db.close();

    expect(() => new SqliteRegistry(path, { bcryptCost: 4 })).toThrow(
      new RegExp(`schema version ${SCHEMA_VERSION + 5}, newer than this ccgate understands \\(${SCHEMA_VERSION}\\)`),
    );
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 5);
    check.close();
  });

  test('a refused file is not left open (no file descriptor leaks on the failed open)', () => {
    const db = new Database(path);
    migrate(db, MIGRATIONS);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(openFdsOn(path)).toBe(0);
    for (let i = 0; i < 3; i++) expect(() => new SqliteRegistry(path, { bcryptCost: 4 })).toThrow(/newer/);
    expect(openFdsOn(path)).toBe(0);
  });

  test('an invalid bcrypt cost is refused before the file is opened', () => {
    expect(() => new SqliteRegistry(path, { bcryptCost: 3 })).toThrow(/bcrypt cost/);
    expect(() => new SqliteRegistry(path, { bcryptCost: 16 })).toThrow(/bcrypt cost/);
    expect(openFdsOn(path)).toBe(0);
  });
});

describe('registry file: two connections (server and CLI)', () => {
  let t: TempRegistry;
  beforeEach(() => {
    t = tempRegistry();
  });
  afterEach(() => t.cleanup());

  test('a write by one connection is seen by the other, and moves its changeStamp', async () => {
    const cli = t.reopen();
    const before = await t.registry.changeStamp();
    await cli.createGroup('from-cli', ['x']);
    expect(await t.registry.changeStamp()).not.toBe(before);
    expect(await t.registry.getGroup('from-cli')).not.toBeNull();
  });

  test('a local write moves changeStamp; a read does not', async () => {
    const s0 = await t.registry.changeStamp();
    await t.registry.listGroups();
    expect(await t.registry.changeStamp()).toBe(s0);
    await t.registry.createGroup('g', ['x']);
    const s1 = await t.registry.changeStamp();
    expect(s1).not.toBe(s0);
  });

  test('a refused write does not move changeStamp', async () => {
    const s0 = await t.registry.changeStamp();
    await expect(t.registry.createGroup('bad name!', ['x'])).rejects.toMatchObject({ kind: 'invalid' });
    expect(await t.registry.changeStamp()).toBe(s0);
  });
});
