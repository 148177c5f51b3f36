import { openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Registry } from '../../../lib/registry/registry';
import { SqliteStorage } from '../../../lib/registry/sqlite';
import { DataVersionProbe, SqliteChangeFeed } from '../../../lib/registry/sqlite/change-feed';
import { openFdsOn, tempRegistry, type TempRegistry } from '../../support/temp';

let t: TempRegistry;
beforeEach(() => {
  t = tempRegistry();
});
afterEach(() => t.cleanup());

/** Runs `work` on a plain better-sqlite3 connection of another "process": no registry, no feed of its own. */
function elsewhere<T>(work: (db: Database.Database) => T): T {
  const db = new Database(t.path);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

describe('SQLite change feed: the WAL index', () => {
  test('a commit by another connection is announced at the next current(), before it answers, and only once', () => {
    const storage = new SqliteStorage(t.path);
    const heard: boolean[] = [];
    storage.changes.watch(() => heard.push(true));
    expect(storage.changes.current()).toBe(true);
    expect(heard).toHaveLength(0);
    elsewhere((db) => db.prepare('INSERT INTO groups (name, created_at) VALUES (?, ?)').run('raw', 1));
    expect(storage.changes.current()).toBe(true);
    expect(heard).toHaveLength(1);
    expect(storage.changes.current()).toBe(true);
    expect(heard).toHaveLength(1);
    void storage.close();
  });

  test('a read by another connection, or a read of our own, is not a change: version() stays', async () => {
    const before = t.registry.version();
    await t.registry.listGroups();
    elsewhere((db) => db.prepare('SELECT count(*) FROM clients').get());
    expect(t.registry.version()).toBe(before);
  });

  test('a refused write does not move version()', async () => {
    const before = t.registry.version();
    await expect(t.registry.createGroup('bad name!', ['x'])).rejects.toMatchObject({ kind: 'invalid' });
    expect(t.registry.version()).toBe(before);
  });

  test('a write by another connection (plain SQL, no registry) drops the cached token statuses', async () => {
    const { client } = await t.registry.createClient({ name: 'c' });
    expect(await t.registry.tokenStatus('j', client.clientId)).toBe('active');
    elsewhere((db) => db.prepare('UPDATE clients SET enabled = 0 WHERE client_id = ?').run(client.clientId));
    expect(await t.registry.tokenStatus('j', client.clientId)).toBe('client_disabled');
  });

  test('knownStatus answers what tokenStatus remembered, and nothing once another connection commits', async () => {
    const { client } = await t.registry.createClient({ name: 'c' });
    expect(t.registry.knownStatus('j', client.clientId)).toBeUndefined();
    expect(await t.registry.tokenStatus('j', client.clientId)).toBe('active');
    expect(t.registry.knownStatus('j', client.clientId)).toBe('active');
    expect(t.registry.knownStatus('j', 'another-client')).toBeUndefined();
    elsewhere((db) => db.prepare('UPDATE clients SET enabled = 0 WHERE client_id = ?').run(client.clientId));
    expect(t.registry.knownStatus('j', client.clientId)).toBeUndefined();
    expect(await t.registry.tokenStatus('j', client.clientId)).toBe('client_disabled');
    expect(t.registry.knownStatus('j', client.clientId)).toBe('client_disabled');
  });

  test('atOneReading: one look at the WAL index for all of its synchronous work; the next look after it sees a commit made meanwhile', async () => {
    const { client } = await t.registry.createClient({ name: 'c' });
    expect(await t.registry.tokenStatus('j', client.clientId)).toBe('active');
    const seen = t.registry.atOneReading(() => {
      const first = t.registry.version();
      elsewhere((db) => db.prepare('UPDATE clients SET enabled = 0 WHERE client_id = ?').run(client.clientId));
      return { first, second: t.registry.version(), status: t.registry.knownStatus('j', client.clientId) };
    });
    // The reading taken as the work began: the commit during it is not looked for again...
    expect(seen.second).toBe(seen.first);
    expect(seen.status).toBe('active');
    // ...and is seen by the very next look, outside.
    expect(t.registry.version()).not.toBe(seen.first);
    expect(t.registry.knownStatus('j', client.clientId)).toBeUndefined();
    expect(await t.registry.tokenStatus('j', client.clientId)).toBe('client_disabled');
  });

  test('atOneReading lets go of its reading when the work throws', () => {
    const before = t.registry.version();
    expect(() =>
      t.registry.atOneReading(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    elsewhere((db) => db.prepare('INSERT INTO groups (name, created_at) VALUES (?, ?)').run('raw', 1));
    expect(t.registry.version()).not.toBe(before);
  });

  test('watch returns its unsubscribe function; the same listener watched twice is two subscriptions', () => {
    const storage = new SqliteStorage(t.path);
    let calls = 0;
    const listener = () => calls++;
    const first = storage.changes.watch(listener);
    storage.changes.watch(listener);
    const commit = () => elsewhere((db) => db.exec('INSERT INTO groups (name, created_at) VALUES (hex(randomblob(8)), 1)'));
    commit();
    storage.changes.current();
    expect(calls).toBe(2);
    first();
    first();
    commit();
    storage.changes.current();
    expect(calls).toBe(3);
    void storage.close();
  });
});

describe('SQLite change feed: without a readable WAL index', () => {
  test("':memory:' falls back to PRAGMA data_version: current() is still true, and the registry works", async () => {
    const storage = new SqliteStorage(':memory:');
    const registry = new Registry(storage, { bcryptCost: 4, pruneIntervalSeconds: 0 });
    try {
      expect(storage.changes.current()).toBe(true);
      await registry.createGroup('g', ['a']);
      expect((await registry.getGroup('g'))?.scopes).toEqual(['a']);
      const { client } = await registry.createClient({ name: 'c' });
      expect(await registry.tokenStatus('j', client.clientId)).toBe('active');
      await registry.setClientEnabled(client.clientId, false);
      expect(await registry.tokenStatus('j', client.clientId)).toBe('client_disabled');
    } finally {
      await registry.close();
    }
  });

  test('PRAGMA data_version announces a commit by another connection', () => {
    const db = new Database(t.path);
    const feed = new SqliteChangeFeed(new DataVersionProbe(db));
    let heard = 0;
    feed.watch(() => heard++);
    expect(feed.current()).toBe(true);
    db.prepare('INSERT INTO groups (name, created_at) VALUES (?, ?)').run('own', 1);
    expect(feed.current()).toBe(true);
    expect(heard).toBe(0); // our own commit: the service knows of it already
    elsewhere((db) => db.exec("INSERT INTO groups (name, created_at) VALUES ('theirs', 1)"));
    expect(feed.current()).toBe(true);
    expect(heard).toBe(1);
    feed.close();
    expect(feed.current()).toBe(false);
    db.close();
  });
});

describe('SQLite change feed: after close()', () => {
  test('current() is false and never reads the closed descriptor, even once its number belongs to another file', async () => {
    const storage = new SqliteStorage(t.path);
    let heard = 0;
    storage.changes.watch(() => heard++);
    await storage.close();
    await storage.close(); // idempotent
    // Hand the freed numbers on to files whose first bytes differ from any WAL index header.
    const junk = join(t.dir, 'junk');
    writeFileSync(junk, Buffer.alloc(4096, 0xab));
    const fds = Array.from({ length: 8 }, () => openSync(junk, 'r'));
    try {
      expect(storage.changes.current()).toBe(false);
      expect(heard).toBe(0);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });

  test('close() closes every descriptor on the file: the database, its WAL and the WAL index probe', async () => {
    await t.registry.close();
    expect(openFdsOn(t.path)).toBe(0);
    const storage = new SqliteStorage(t.path);
    expect(openFdsOn(t.path)).toBeGreaterThan(0);
    await storage.close();
    expect(openFdsOn(t.path)).toBe(0);
  });
});
