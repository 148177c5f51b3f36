import { openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Registry } from '../../../lib/registry/registry';
import type { RegistryStorage } from '../../../lib/registry/storage';
import { SqliteStorage } from '../../../lib/registry/sqlite';
import { DataVersionProbe, SqliteChangeFeed } from '../../../lib/registry/sqlite/change-feed';
import { openFdsOn, tempRegistry, type TempRegistry } from '../../support/temp';

let t: TempRegistry;
beforeEach(() => {
  t = tempRegistry();
});
afterEach(() => t.cleanup());

/** A storage's parts as a plain object (its methods bound): what a storage of the user's own looks like. */
function storageMethods(storage: SqliteStorage): RegistryStorage {
  return {
    groups: storage.groups,
    clients: storage.clients,
    resources: storage.resources,
    keys: storage.keys,
    revocations: storage.revocations,
    replay: storage.replay,
    changes: storage.changes,
    limiter: (options) => storage.limiter(options),
    open: () => storage.open(),
    ping: () => storage.ping(),
    prune: (before) => storage.prune(before),
    close: () => storage.close(),
  };
}

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

  test('tokenStatusAt: judged at the reading handed back while nothing was announced since; a look in between announces the commit and is honoured', async () => {
    const { client } = await t.registry.createClient({ name: 'c' });
    expect(await t.registry.tokenStatus('j', client.clientId)).toBe('active');
    // A request's reading, then a disable committed by another process before its status is asked.
    const reading = t.registry.changeReading();
    elsewhere((db) => db.prepare('UPDATE clients SET enabled = 0 WHERE client_id = ?').run(client.clientId));
    // That request arrived before the commit: the answer at its reading stands, with no second look.
    expect(await t.registry.tokenStatusAt('j', client.clientId, reading)).toBe('active');
    // The next request's reading sees the commit.
    const next = t.registry.changeReading();
    expect(next).not.toBe(reading);
    expect(await t.registry.tokenStatusAt('j', client.clientId, next)).toBe('client_disabled');
    // A reading older than an announced change is not used: a fresh look answers.
    expect(await t.registry.tokenStatusAt('j', client.clientId, reading)).toBe('client_disabled');
  });

  test('a storage of your own without revocations.revoked: every new jti is asked of status(), with the same answers', async () => {
    const storage = new SqliteStorage(t.path);
    const { insert, status, prune } = storage.revocations;
    const asked: string[] = [];
    const revocations = {
      insert: insert.bind(storage.revocations),
      status: (jti: string, clientId: string) => {
        asked.push(jti);
        return status.call(storage.revocations, jti, clientId);
      },
      prune: prune.bind(storage.revocations),
    };
    const own: RegistryStorage = { ...storageMethods(storage), revocations };
    const registry = new Registry(own, { bcryptCost: 4, pruneIntervalSeconds: 0 });
    try {
      const { client } = await registry.createClient({ name: 'c' });
      await registry.revokeToken({ jti: 'r', clientId: client.clientId, expiresAt: Math.floor(Date.now() / 1000) + 60 });
      expect(await registry.tokenStatus('a', client.clientId)).toBe('active');
      expect(await registry.tokenStatus('r', client.clientId)).toBe('revoked');
      expect(await registry.tokenStatus('b', client.clientId)).toBe('active');
      expect(asked).toEqual(['a', 'r', 'b']);
    } finally {
      await registry.close();
    }
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
