import { PostgresStorage } from '../../../lib/registry/postgres';
import { SCHEMA_VERSION } from '../../../lib/registry/postgres/migrations';
import { describePostgres, rawConnection, useTestDatabase, type RawConnection } from '../../support/postgres';

describePostgres('PostgreSQL migrations', () => {
  const db = useTestDatabase();
  let raw: RawConnection;
  const storages: PostgresStorage[] = [];
  const storage = (schema: string): PostgresStorage => {
    const opened = new PostgresStorage(db.url, { schema });
    storages.push(opened);
    return opened;
  };
  beforeAll(async () => {
    raw = await rawConnection(db.url);
  });
  afterEach(async () => {
    for (const opened of storages.splice(0)) await opened.close();
  });
  afterAll(() => raw.close());

  test('several instances opening one fresh database at once migrate exactly once (advisory lock)', async () => {
    const instances = Array.from({ length: 6 }, () => storage('concurrent'));
    await Promise.all(instances.map((s) => s.open()));
    const versions = await raw.rows<{ version: number }>('SELECT version FROM concurrent.ccgate_migrations ORDER BY version');
    expect(versions.map((row) => row.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    // Every instance works on the one schema.
    await instances[0].groups.insert('g', ['a'], 1);
    expect(await instances[5].groups.get('g')).toMatchObject({ scopes: ['a'] });
  });

  test('opening again applies nothing and keeps the data', async () => {
    const first = storage('again');
    await first.groups.insert('kept', ['a'], 1);
    const [before] = await raw.rows<{ applied_at: number }>('SELECT max(applied_at) AS applied_at FROM again.ccgate_migrations');
    await first.close();
    const second = storage('again');
    expect(await second.groups.get('kept')).toMatchObject({ name: 'kept' });
    expect(await raw.rows('SELECT max(applied_at) AS applied_at FROM again.ccgate_migrations')).toEqual([before]);
    expect(await raw.rows('SELECT count(*) AS n FROM again.ccgate_migrations')).toEqual([{ n: SCHEMA_VERSION }]);
  });

  test('a schema migrated by a newer ccgate is refused with a clear error, and nothing is changed', async () => {
    await storage('newer').open();
    await raw.rows(`INSERT INTO newer.ccgate_migrations (version, applied_at) VALUES (${SCHEMA_VERSION + 1}, 0)`);
    await expect(storage('newer').open()).rejects.toThrow(`The registry schema "newer" has version ${SCHEMA_VERSION + 1}, newer than this ccgate understands`);
    expect(await raw.rows('SELECT count(*) AS n FROM newer.ccgate_migrations')).toEqual([{ n: SCHEMA_VERSION + 1 }]);
  });

  test('every method opens (and migrates) on first use', async () => {
    const lazy = storage('lazy');
    expect(await lazy.groups.list()).toEqual([]);
    expect(await raw.rows(`SELECT count(*) AS n FROM lazy.ccgate_migrations`)).toEqual([{ n: SCHEMA_VERSION }]);
  });

  describe('constraints of the schema', () => {
    beforeAll(async () => {
      const opened = new PostgresStorage(db.url, { schema: 'rules' });
      await opened.open();
      await opened.close();
    });
    const violation = (sql: string): Promise<unknown> =>
      raw.rows(sql).then(
        () => 'accepted',
        (err: { code?: string }) => err.code,
      );

    test.each([
      ["INSERT INTO rules.clients VALUES ('c1', 'n', 'secretive', '{client_credentials}', NULL, true, 1, 1)", '23514'],
      ["INSERT INTO rules.clients VALUES ('c2', 'n', 'public', '{client_credentials}', 0, true, 1, 1)", '23514'],
      ["INSERT INTO rules.clients VALUES ('c3', 'n', 'public', '{client_credentials}', 86401, true, 1, 1)", '23514'],
      ["INSERT INTO rules.clients VALUES ('c4', '', 'public', '{client_credentials}', NULL, true, 1, 1)", '23514'],
      ["INSERT INTO rules.signing_keys VALUES ('k', 'HS256', 'pem', '{}', 1, 1, NULL, NULL)", '23514'],
      ["INSERT INTO rules.client_secrets (client_id, secret_hash, created_at) VALUES ('nobody', 'h', 1)", '23503'],
      ["INSERT INTO rules.group_scopes VALUES (424242, 'a')", '23503'],
    ])('%s is refused (%s)', async (sql, code) => {
      expect(await violation(sql)).toBe(code);
    });

    test('names are unique, one current secret per client, and deleting a client or group cascades', async () => {
      await raw.rows(`INSERT INTO rules.groups (name, created_at) VALUES ('g', 1)`);
      expect(await violation(`INSERT INTO rules.groups (name, created_at) VALUES ('g', 2)`)).toBe('23505');
      await raw.rows(`INSERT INTO rules.clients VALUES ('c', 'n', 'confidential', '{client_credentials}', 60, true, 1, 1)`);
      await raw.rows(`INSERT INTO rules.client_secrets (client_id, secret_hash, created_at) VALUES ('c', 'h1', 1)`);
      expect(await violation(`INSERT INTO rules.client_secrets (client_id, secret_hash, created_at) VALUES ('c', 'h2', 1)`)).toBe('23505');
      await raw.rows(`INSERT INTO rules.client_groups SELECT 'c', id FROM rules.groups`);
      await raw.rows(`INSERT INTO rules.group_scopes SELECT id, 's' FROM rules.groups`);
      await raw.rows(`DELETE FROM rules.groups`);
      expect(await raw.rows('SELECT (SELECT count(*) FROM rules.client_groups) AS m, (SELECT count(*) FROM rules.group_scopes) AS s')).toEqual([
        { m: 0, s: 0 },
      ]);
      await raw.rows(`DELETE FROM rules.clients`);
      expect(await raw.rows('SELECT count(*) AS n FROM rules.client_secrets')).toEqual([{ n: 0 }]);
    });

    test('every lookup of the storage has its index', async () => {
      const indexes = await raw.rows<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = 'rules'`);
      expect(indexes.map((row) => row.indexname)).toEqual(
        expect.arrayContaining(['revoked_tokens_by_expiry', 'replay_by_expiry', 'client_secrets_by_client', 'client_groups_by_group', 'throttle_by_expiry']),
      );
    });
  });
});
