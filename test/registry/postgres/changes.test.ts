import { PostgresStorage, type PostgresOptions } from '../../../lib/registry/postgres';
import { Registry } from '../../../lib/registry/registry';
import { describePostgres, rawConnection, terminate, useTestDatabase, type RawConnection } from '../../support/postgres';
import { eventually, sleep } from '../../support/time';

/** Resolves once `probe` holds, polling every 10 ms for at most `ms` (generous bounds: this is not a timing test). */
async function within(ms: number, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await sleep(10);
  }
}

describePostgres('PostgreSQL change feed', () => {
  const db = useTestDatabase();
  let raw: RawConnection;
  const storages: PostgresStorage[] = [];
  const open = async (options: PostgresOptions = {}): Promise<PostgresStorage> => {
    const storage = new PostgresStorage(db.url, { schema: 'feed', ...options });
    storages.push(storage);
    await storage.open();
    return storage;
  };
  /** Counts the watcher calls of `storage`. */
  const heard = (storage: PostgresStorage): { count: number } => {
    const calls = { count: 0 };
    storage.changes.watch(() => calls.count++);
    return calls;
  };
  const listenerPids = async (): Promise<number[]> =>
    (await raw.rows<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ccgate-listen'`, [db.name])).map(
      (r) => r.pid,
    );

  beforeAll(async () => {
    raw = await rawConnection(db.url);
  });
  afterEach(async () => {
    for (const storage of storages.splice(0)) await storage.close();
  });
  afterAll(() => raw.close());

  test('a write through one storage is announced to the watchers of another at once (NOTIFY), long before any poll', async () => {
    // Polls every 30 s: whatever arrives sooner came by notification.
    const listening = await open({ maxStalenessMs: 60_000 });
    const writer = await open();
    const calls = heard(listening);
    await writer.groups.insert('g', ['a'], 1);
    await within(2000, () => calls.count > 0);
    const before = calls.count;
    await writer.revocations.insert({ jti: 'j', clientId: null, expiresAt: 10 }, 1);
    await within(2000, () => calls.count > before);
  });

  test('a change made outside ccgate (SQL, another version) is announced too, and a statement changing no row is not', async () => {
    const listening = await open({ maxStalenessMs: 60_000 });
    const calls = heard(listening);
    await raw.rows(`UPDATE feed.groups SET created_at = created_at WHERE false`);
    await raw.rows(`DELETE FROM feed.revoked_tokens WHERE false`);
    await sleep(200);
    expect(calls.count).toBe(0);
    await raw.rows(`INSERT INTO feed.groups (name, created_at) VALUES ('outside', 1)`);
    await within(2000, () => calls.count === 1);
  });

  test('the listening connection has its own application_name and is not from the pool', async () => {
    await open();
    expect(await listenerPids()).toHaveLength(1);
    const names = await raw.rows<{ application_name: string }>(`SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = $1 ORDER BY 1`, [
      db.name,
    ]);
    expect(names.map((r) => r.application_name)).toEqual(expect.arrayContaining(['ccgate', 'ccgate-listen']));
  });

  test('a killed listening connection is replaced: it subscribes again, announces once to catch up, and hears later changes', async () => {
    const listening = await open({ maxStalenessMs: 60_000 });
    const writer = await open();
    const calls = heard(listening);
    const [killed] = await listenerPids();
    await terminate(raw, db.name, 'ccgate-listen');
    await within(10_000, async () => calls.count === 1 && (await listenerPids()).some((pid) => pid !== killed));
    // The catch-up announcement came with no write at all; a new write is heard through the new subscription.
    await writer.groups.insert('after', [], 1);
    await within(2000, () => calls.count === 2);
  });

  test('with the listening connection down and unable to reconnect, polling still announces a change within maxStalenessMs', async () => {
    const listening = await open({ maxStalenessMs: 400 });
    const calls = heard(listening);
    // New connections to the database are refused from now on (the pool's open one keeps polling).
    const admin = await rawConnection();
    await admin.rows(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);
    try {
      await terminate(raw, db.name, 'ccgate-listen');
      await within(5000, async () => (await listenerPids()).length === 0);
      const base = calls.count;
      const wroteAt = Date.now();
      await raw.rows(`INSERT INTO feed.groups (name, created_at) VALUES ('polled', 1)`);
      await within(5000, () => calls.count > base);
      expect(Date.now() - wroteAt).toBeLessThan(3000);
      expect(await listenerPids()).toEqual([]);
      expect(listening.changes.current()).toBe(true);
    } finally {
      await admin.rows(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
      await admin.close();
    }
    // Connections are allowed again: the listener comes back by itself (backoff is capped at 5 s).
    await within(15_000, async () => (await listenerPids()).length === 1);
  });

  test('the service never answers from a cache older than maxStalenessMs, even with every notification lost', async () => {
    const bound = 300;
    const reader = new Registry(await open({ maxStalenessMs: bound }), { pruneIntervalSeconds: 0 });
    const writer = new Registry(await open(), { pruneIntervalSeconds: 0, bcryptCost: 4 });
    const { client } = await writer.createClient({ name: 'stale?' });
    // Warm the reader's caches.
    expect(await reader.tokenStatus('j1', client.clientId)).toBe('active');
    expect(await reader.findClientCredentials(client.clientId)).toMatchObject({ enabled: true });
    const admin = await rawConnection();
    await admin.rows(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);
    try {
      await terminate(raw, db.name, 'ccgate-listen');
      await within(5000, async () => (await listenerPids()).length === 0);
      await writer.revokeToken({ jti: 'j1', clientId: client.clientId, expiresAt: 4_000_000_000 });
      await writer.setClientEnabled(client.clientId, false);
      // No notification can arrive; after the bound, the next reads see both changes.
      await sleep(bound);
      expect(await reader.tokenStatus('j1', client.clientId)).toBe('revoked');
      expect(await reader.findClientCredentials(client.clientId)).toMatchObject({ enabled: false });
    } finally {
      await admin.rows(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
      await admin.close();
    }
  });

  test('current() turns false once the counter has not been confirmed within maxStalenessMs, so the service reads through; true again after', async () => {
    const storage = await open({ maxStalenessMs: 300 });
    const registry = new Registry(storage, { pruneIntervalSeconds: 0 });
    expect(storage.changes.current()).toBe(true);
    expect(registry.version()).toBe(registry.version());
    // Polls of the counter now wait for this lock: no confirmation arrives.
    await raw.rows('BEGIN');
    try {
      await raw.rows('LOCK TABLE feed.ccgate_changes IN ACCESS EXCLUSIVE MODE');
      await within(3000, () => !storage.changes.current());
      // Not current: the service caches nothing (version() is new at every call).
      expect(registry.version()).not.toBe(registry.version());
    } finally {
      await raw.rows('COMMIT');
    }
    await within(3000, () => storage.changes.current());
  });

  test('a watcher that throws does not keep the others from hearing', async () => {
    const listening = await open({ maxStalenessMs: 60_000 });
    const writer = await open();
    listening.changes.watch(() => {
      throw new Error('careless watcher');
    });
    const calls = heard(listening);
    await writer.groups.insert('thrown', [], 1);
    await within(2000, () => calls.count > 0);
  });

  test('watch() returns its unsubscribe; close() stops the feed: current() is false, nothing is heard, no handle is left', async () => {
    const resources = (): string[] => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    const before = resources().length;
    const listening = await open({ maxStalenessMs: 200 });
    const writer = await open();
    const calls = { count: 0 };
    const stop = listening.changes.watch(() => calls.count++);
    await writer.groups.insert('one', [], 1);
    await within(2000, () => calls.count > 0);
    stop();
    const after = calls.count;
    await writer.groups.insert('two', [], 1);
    await sleep(300);
    expect(calls.count).toBe(after);
    // Open and idle: timers, the listening socket and idle pooled sockets are unref'd (they keep no process alive).
    await eventually(() => Promise.resolve(resources().length <= before ? true : undefined), 30);
    await listening.close();
    expect(listening.changes.current()).toBe(false);
  });
});
