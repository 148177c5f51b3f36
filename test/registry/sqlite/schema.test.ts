import { createHash } from 'node:crypto';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import Database from 'better-sqlite3';
import { RegistryUnavailableError } from '../../../lib/errors';
import { generateKey } from '../../../lib/registry/key-lifecycle';
import { Registry } from '../../../lib/registry/registry';
import { SqliteStorage } from '../../../lib/registry/sqlite';
import { MIGRATIONS, SCHEMA_VERSION, migrate } from '../../../lib/registry/sqlite/schema';
import { openFdsOn, tempDir } from '../../support/temp';
import { TestClock } from '../../support/time';

const versionOf = (path: string): number => {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
};

let dir: string;
let cleanup: () => void;
let path: string;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('ccgate-mig-'));
  path = join(dir, 'old.db');
});
afterEach(() => cleanup());

describe('SQLite registry file: migrations (PRAGMA user_version)', () => {
  test('migrations 1 and 2 are exactly what shipped (a shipped migration is never edited)', () => {
    expect(createHash('sha256').update(MIGRATIONS[0]).digest('hex')).toBe('dc668a5bf8bec74a49f6a1f89bb6fac80658ef2c3a8aede484465c66723af1e4');
    expect(createHash('sha256').update(MIGRATIONS[1]).digest('hex')).toBe('7225503c51c8188658d0b57f6827c081860c54f06ee457ffa831a901c893e47c');
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(3);
  });

  test('a fresh file is at the current schema version, with the replay and throttle tables', async () => {
    await new SqliteStorage(path).close();
    expect(versionOf(path)).toBe(SCHEMA_VERSION);
    const db = new Database(path, { readonly: true });
    const columns = (table: string) =>
      db
        .prepare<[], { name: string }>(`PRAGMA table_info(${table})`)
        .all()
        .map((c) => c.name);
    expect(columns('replay')).toEqual(['namespace', 'id', 'expires_at']);
    // Exactly the table rate-limiter-flexible's RateLimiterSQLite uses.
    expect(columns('throttle')).toEqual(['key', 'points', 'expire']);
    db.close();
  });

  test('a file at version 0 holding unrelated data is upgraded, and its data kept', async () => {
    const raw = new Database(path);
    raw.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me');");
    expect(raw.pragma('user_version', { simple: true })).toBe(0);
    raw.close();

    const registry = new Registry(new SqliteStorage(path), { bcryptCost: 4, pruneIntervalSeconds: 0 });
    try {
      expect(versionOf(path)).toBe(SCHEMA_VERSION);
      const check = new Database(path, { readonly: true });
      expect(check.prepare('SELECT body FROM notes').pluck().all()).toEqual(['keep me']);
      check.close();
      // The upgraded file is usable.
      await registry.createGroup('g', ['a']);
      const { client } = await registry.createClient({ name: 'c', groups: ['g'] });
      expect(client.scopes).toEqual(['a']);
    } finally {
      await registry.close();
    }
  });

  test('a file written by an older ccgate (fewer migrations) is brought up to date, in order', () => {
    // Pretend a later release adds one more migration.
    const next = [...MIGRATIONS, 'CREATE TABLE audit_log (id INTEGER PRIMARY KEY, what TEXT NOT NULL);'];
    const db = new Database(path);
    migrate(db, MIGRATIONS);
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

  test('opening an up-to-date file writes nothing (no commit, so no change announced to other instances)', async () => {
    await new SqliteStorage(path).close();
    const watcher = new SqliteStorage(path);
    try {
      let heard = 0;
      watcher.changes.watch(() => heard++);
      await new SqliteStorage(path).close();
      expect(watcher.changes.current()).toBe(true);
      expect(heard).toBe(0);
    } finally {
      await watcher.close();
    }
  });

  test('migrate(db, MIGRATIONS.slice(0, 0)) leaves version 0; opening the registry then upgrades it', async () => {
    const db = new Database(path);
    migrate(db, MIGRATIONS.slice(0, 0));
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    db.close();
    await new SqliteStorage(path).close();
    expect(versionOf(path)).toBe(SCHEMA_VERSION);
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

    expect(() => new SqliteStorage(path)).toThrow(
      new RegExp(`schema version ${SCHEMA_VERSION + 5}, newer than this ccgate understands \\(${SCHEMA_VERSION}\\)`),
    );
    expect(versionOf(path)).toBe(SCHEMA_VERSION + 5);
  });

  test('a refused file is not left open (no file descriptor leaks on the failed open)', () => {
    const db = new Database(path);
    migrate(db, MIGRATIONS);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(openFdsOn(path)).toBe(0);
    for (let i = 0; i < 3; i++) expect(() => new SqliteStorage(path)).toThrow(/newer/);
    expect(openFdsOn(path)).toBe(0);
  });
});

describe('SQLite registry file: a version 1 file, written before replay caches and the shared throttle', () => {
  const clock = new TestClock();
  const secret = 'the old secret, 28 bytes ok';

  /** Rows as ccgate wrote them at schema version 1 (grant types space-joined, the JWK as JSON, enabled as 1). */
  async function writeVersion1File(): Promise<{ kid: string }> {
    const key = await generateKey('ES256', clock.t - 100);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    migrate(db, MIGRATIONS.slice(0, 1));
    db.exec(`
      INSERT INTO groups (id, name, created_at) VALUES (1, 'readers', ${clock.t - 100});
      INSERT INTO group_scopes (group_id, scope) VALUES (1, 'reports:read'), (1, 'users:read');
      INSERT INTO clients (client_id, name, type, grant_types, token_ttl, enabled, created_at, updated_at)
        VALUES ('old-client', 'legacy', 'confidential', 'client_credentials', 600, 1, ${clock.t - 100}, ${clock.t - 50});
      INSERT INTO client_groups (client_id, group_id) VALUES ('old-client', 1);
      INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES ('old-jti', 'old-client', ${clock.t + 600}, ${clock.t - 10});
    `);
    db.prepare('INSERT INTO client_secrets (client_id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, NULL)').run(
      'old-client',
      bcrypt.hashSync(secret, 4),
      clock.t - 100,
    );
    db.prepare(
      `INSERT INTO signing_keys (kid, alg, private_pem, public_jwk, created_at, activates_at, retires_at, signed_until)
       VALUES (?, 'ES256', ?, ?, ?, ?, NULL, NULL)`,
    ).run(key.kid, key.privateKeyPem, JSON.stringify(key.publicJwk), key.createdAt, key.activatesAt);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    db.close();
    return { kid: key.kid };
  }

  test('opens unchanged and is migrated to version 2: every row reads back, and the new operations work', async () => {
    const { kid } = await writeVersion1File();
    const registry = new Registry(new SqliteStorage(path), { bcryptCost: 4, now: clock.now, pruneIntervalSeconds: 0 });
    try {
      expect(versionOf(path)).toBe(SCHEMA_VERSION);
      expect(await registry.getClient('old-client')).toMatchObject({
        name: 'legacy',
        type: 'confidential',
        grantTypes: ['client_credentials'],
        tokenTtl: 600,
        enabled: true,
        groups: ['readers'],
        scopes: ['reports:read', 'users:read'],
        secrets: [{ createdAt: clock.t - 100, expiresAt: null }],
        updatedAt: clock.t - 50,
      });
      const creds = await registry.findClientCredentials('old-client');
      expect(bcrypt.compareSync(secret, creds!.secretHashes[0])).toBe(true);
      expect(await registry.tokenStatus('old-jti', 'old-client')).toBe('revoked');
      expect((await registry.ensureSigningKey('ES256')).kid).toBe(kid);
      expect(await registry.useOnce('dpop', 'j', clock.t + 60)).toBe(true);
      expect(await registry.useOnce('dpop', 'j', clock.t + 60)).toBe(false);
      await registry.limiter({ keyPrefix: 'v1', points: 5, durationSeconds: 60, blockDurationSeconds: 60 }).consume('k');
      expect(await registry.pruneExpired()).toMatchObject({ revocations: 0, replay: 0, throttle: 0 });
    } finally {
      await registry.close();
    }
  });

  test('while another process holds the write lock, the old file cannot be migrated: RegistryUnavailableError, and nothing changed', async () => {
    await writeVersion1File();
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    try {
      expect(() => new SqliteStorage(path, { busyTimeoutMs: 20 })).toThrow(RegistryUnavailableError);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    // The refused open closed its handle (SQLite keeps a closed file's descriptor while another connection of the process holds locks on it).
    expect(openFdsOn(path)).toBe(0);
    expect(versionOf(path)).toBe(1);
    await new SqliteStorage(path).close();
    expect(versionOf(path)).toBe(SCHEMA_VERSION);
  });

  test('an up-to-date file opens while another process holds the write lock (opening needs no lock)', async () => {
    await new SqliteStorage(path).close();
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const storage = new SqliteStorage(path, { busyTimeoutMs: 20 });
      await expect(storage.groups.list()).resolves.toEqual([]);
      await storage.close();
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });
});
