import { ConfigurationError } from '../../../lib/errors';
import { PostgresStorage, type PostgresOptions } from '../../../lib/registry/postgres';
import { describePostgres, rawConnection, useTestDatabase, withSchema, type RawConnection } from '../../support/postgres';
import { sleep } from '../../support/time';

describePostgres('PostgreSQL schema option', () => {
  const db = useTestDatabase();
  let raw: RawConnection;
  const storages: PostgresStorage[] = [];
  const open = async (url: string, options: PostgresOptions = {}): Promise<PostgresStorage> => {
    const storage = new PostgresStorage(url, { maxStalenessMs: 60_000, ...options });
    storages.push(storage);
    await storage.open();
    return storage;
  };
  beforeAll(async () => {
    raw = await rawConnection(db.url);
  });
  afterEach(async () => {
    for (const storage of storages.splice(0)) await storage.close();
  });
  afterAll(() => raw.close());

  const tablesOf = async (schema: string): Promise<string[]> =>
    (await raw.rows<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema])).map(
      (r) => r.table_name,
    );

  test('without a schema the tables go to public; ?schema= in the URL names another (and is not passed on to the server)', async () => {
    await open(db.url);
    await open(withSchema(db.url, 'from_url'));
    expect(await tablesOf('public')).toContain('clients');
    expect(await tablesOf('from_url')).toEqual(await tablesOf('public'));
  });

  test('the option wins over the URL; a name that needs quoting works (case, dash, space)', async () => {
    const storage = await open(withSchema(db.url, 'ignored'), { schema: 'Tenant-B two' });
    expect(storage.schema).toBe('Tenant-B two');
    await storage.groups.insert('g', ['a'], 1);
    expect(await raw.rows(`SELECT name FROM "Tenant-B two".groups`)).toEqual([{ name: 'g' }]);
    expect(await tablesOf('ignored')).toEqual([]);
  });

  test('two ccgate schemas in one database do not see each other: rows, notifications, locks', async () => {
    const a = await open(db.url, { schema: 'tenant_a' });
    const b = await open(db.url, { schema: 'tenant_b' });
    let heardByA = 0;
    let heardByB = 0;
    a.changes.watch(() => heardByA++);
    b.changes.watch(() => heardByB++);
    await b.groups.insert('only-b', ['x'], 1);
    await b.limiter({ keyPrefix: 'p', points: 5, durationSeconds: 60, blockDurationSeconds: 60 }).consume('k');
    await sleep(300);
    expect(heardByB).toBeGreaterThan(0);
    expect(heardByA).toBe(0);
    expect(await a.groups.list()).toEqual([]);
    expect(await b.groups.list()).toMatchObject([{ name: 'only-b' }]);
    expect(await raw.rows('SELECT count(*) AS n FROM tenant_a.throttle')).toEqual([{ n: 0 }]);
    expect(await raw.rows('SELECT count(*) AS n FROM tenant_b.throttle')).toEqual([{ n: 1 }]);
    // Each schema prunes under its own lock: both can at the same time.
    const both = await Promise.all([a.prune({ revocations: 1, replay: 1 }), b.prune({ revocations: 1, replay: 1 })]);
    expect(both).not.toContain(null);
  });

  test.each<[PostgresOptions, string]>([
    [{ poolSize: 0 }, 'postgres.poolSize'],
    [{ connectTimeoutMs: 1.5 }, 'postgres.connectTimeoutMs'],
    [{ statementTimeoutMs: -1 }, 'postgres.statementTimeoutMs'],
    [{ maxStalenessMs: Number.NaN }, 'postgres.maxStalenessMs'],
    [{ schema: '' }, 'postgres.schema'],
    [{ schema: 'x'.repeat(64) }, 'postgres.schema'],
    [{ schema: 'with"quote' }, 'postgres.schema'],
  ])('%j is refused when the storage is built (%s)', (options, option) => {
    expect(() => new PostgresStorage(db.url, options)).toThrow(ConfigurationError);
    expect(() => new PostgresStorage(db.url, options)).toThrow(expect.objectContaining({ option }));
  });
});
