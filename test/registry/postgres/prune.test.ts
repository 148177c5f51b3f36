import { lockKey } from '../../../lib/registry/postgres/names';
import { PostgresStorage } from '../../../lib/registry/postgres';
import { describePostgres, rawConnection, useTestDatabase, type RawConnection } from '../../support/postgres';

describePostgres('PostgreSQL prune', () => {
  const db = useTestDatabase();
  let raw: RawConnection;
  let storage: PostgresStorage;
  beforeAll(async () => {
    raw = await rawConnection(db.url);
    storage = new PostgresStorage(db.url, { schema: 'pruning' });
    await storage.open();
  });
  afterAll(async () => {
    await storage.close();
    await raw.close();
  });

  const seed = async (): Promise<void> => {
    await raw.rows('TRUNCATE pruning.revoked_tokens, pruning.replay, pruning.throttle');
    await storage.revocations.insert({ jti: 'old', clientId: null, expiresAt: 100 }, 1);
    await storage.revocations.insert({ jti: 'live', clientId: null, expiresAt: 300 }, 1);
    await storage.replay.use('dpop', 'old', 100, 1);
    await storage.replay.use('dpop', 'live', 300, 1);
    await raw.rows(`INSERT INTO pruning.throttle (key, points, expire) VALUES ('old', 1, 100000), ('live', 1, 300000), ('forever', 1, NULL)`);
  };

  test('deletes what expired at or before the given times (throttle rows by the replay time, in ms), in one transaction', async () => {
    await seed();
    expect(await storage.prune({ revocations: 200, replay: 200 })).toEqual({ revocations: 1, replay: 1, throttle: 1 });
    expect(await raw.rows('SELECT jti FROM pruning.revoked_tokens')).toEqual([{ jti: 'live' }]);
    expect(await raw.rows('SELECT id FROM pruning.replay')).toEqual([{ id: 'live' }]);
    expect(await raw.rows('SELECT key FROM pruning.throttle ORDER BY key')).toEqual([{ key: 'forever' }, { key: 'live' }]);
  });

  test('runs on one instance at a time: null while another holds the prune lock, nothing deleted', async () => {
    await seed();
    const other = await rawConnection(db.url);
    try {
      await other.rows('BEGIN');
      await other.rows('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey('pruning', 'prune')]);
      expect(await storage.prune({ revocations: 1000, replay: 1000 })).toBeNull();
      expect(await raw.rows('SELECT count(*) AS n FROM pruning.revoked_tokens')).toEqual([{ n: 2 }]);
      await other.rows('COMMIT');
    } finally {
      await other.close();
    }
    expect(await storage.prune({ revocations: 1000, replay: 1000 })).toEqual({ revocations: 2, replay: 2, throttle: 2 });
  });

  test('two instances pruning at the same moment: at most one of them deletes', async () => {
    await seed();
    const second = new PostgresStorage(db.url, { schema: 'pruning' });
    try {
      const results = await Promise.all([storage, second, storage, second].map((s) => s.prune({ revocations: 1000, replay: 1000 })));
      const ran = results.filter((r) => r !== null);
      const total = ran.reduce((sum, r) => sum + (r?.revocations ?? 0), 0);
      expect(total).toBe(2);
    } finally {
      await second.close();
    }
  });
});
