/**
 * A client's DPoP policy (RFC 9449 §5.2 dpop_bound_access_tokens): `allowed` by default or
 * `required`, on every backend through the Registry service (the contract suite), plus the upgrade
 * of a registry written before the column existed (SQLite migration 4, PostgreSQL migration 5).
 */
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { AuditEvents, type AuditEventOf } from '../../lib/events';
import { PostgresStorage } from '../../lib/registry/postgres';
import { MIGRATIONS as POSTGRES_MIGRATIONS, migrate as migratePostgres, SCHEMA_VERSION as POSTGRES_VERSION } from '../../lib/registry/postgres/migrations';
import { withUser } from '../../lib/registry/postgres/options';
import { Registry } from '../../lib/registry/registry';
import { SqliteStorage } from '../../lib/registry/sqlite';
import { MIGRATIONS as SQLITE_MIGRATIONS, migrate as migrateSqlite, SCHEMA_VERSION as SQLITE_VERSION } from '../../lib/registry/sqlite/schema';
import { ContractRegistry, registryBackends } from '../support/backends';
import { describePostgres, rawConnection, useTestDatabase } from '../support/postgres';
import { tempDir } from '../support/temp';

describe.each(registryBackends())('DPoP policy per client ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  test('a client is `allowed` by default: in its record, its credentials and its row', async () => {
    const { client } = await t.registry.createClient({ name: 'default' });
    expect(client.dpop).toBe('allowed');
    expect((await t.registry.findClientCredentials(client.clientId))?.dpop).toBe('allowed');
    expect((await t.rows('clients')).map((row) => row.dpop)).toEqual(['allowed']);
  });

  test('createClient with dpop required: the record, the credentials and the list say so', async () => {
    await t.registry.createGroup('g', ['reports:read']);
    const { client } = await t.registry.createClient({ name: 'bound', groups: ['g'], dpop: 'required' });
    expect(client).toMatchObject({ dpop: 'required', scopes: ['reports:read'] });
    expect((await t.registry.findClientCredentials(client.clientId))?.dpop).toBe('required');
    expect((await t.registry.listClients()).map((c) => c.dpop)).toEqual(['required']);
    expect(await t.registry.getClient(client.clientId)).toMatchObject({ dpop: 'required' });
  });

  test('an unknown policy is refused and nothing is written', async () => {
    await expect(t.registry.createClient({ name: 'x', dpop: 'sometimes' as never })).rejects.toMatchObject({ name: 'RegistryError', kind: 'invalid' });
    expect(await t.registry.listClients()).toEqual([]);
  });

  test('setClientDpop changes it at once (the cached credentials too) and moves updatedAt; another instance sees it', async () => {
    const { client } = await t.registry.createClient({ name: 'job' });
    const other = await t.another();
    expect((await other.findClientCredentials(client.clientId))?.dpop).toBe('allowed');
    t.clock.advance(10);
    const updated = await t.registry.setClientDpop(client.clientId, 'required');
    expect(updated).toMatchObject({ dpop: 'required', updatedAt: client.updatedAt + 10, name: 'job', enabled: true });
    expect((await t.registry.findClientCredentials(client.clientId))?.dpop).toBe('required');
    await t.changesSeen();
    expect((await other.findClientCredentials(client.clientId))?.dpop).toBe('required');
    await other.setClientDpop(client.clientId, 'allowed');
    await t.changesSeen();
    expect((await t.registry.findClientCredentials(client.clientId))?.dpop).toBe('allowed');
    expect(await t.count('clients', { dpop: 'allowed' })).toBe(1);
  });

  test('setClientDpop refuses an unknown client (not_found) and an unknown policy (invalid), changing nothing', async () => {
    await expect(t.registry.setClientDpop('no-such-client', 'required')).rejects.toMatchObject({ kind: 'not_found' });
    const { client } = await t.registry.createClient({ name: 'job' });
    await expect(t.registry.setClientDpop(client.clientId, 'on' as never)).rejects.toMatchObject({ kind: 'invalid' });
    expect((await t.registry.getClient(client.clientId))?.dpop).toBe('allowed');
  });

  test('the change is an audit event, client.dpop_changed', async () => {
    const events = new AuditEvents();
    const seen: Array<AuditEventOf<'client.dpop_changed'>> = [];
    events.on('client.dpop_changed', (e) => seen.push(e));
    const audited = await t.another({ events });
    const { client } = await audited.createClient({ name: 'job' });
    await audited.setClientDpop(client.clientId, 'required');
    expect(seen).toEqual([expect.objectContaining({ type: 'client.dpop_changed', clientId: client.clientId, dpop: 'required' })]);
  });

  test('the policy survives the other writes to a client (secrets, groups, enabled)', async () => {
    await t.registry.createGroup('g', ['a']);
    const { client } = await t.registry.createClient({ name: 'job', dpop: 'required' });
    await t.registry.addClientGroups(client.clientId, ['g']);
    await t.registry.setClientEnabled(client.clientId, false);
    const rotated = await t.registry.rotateClientSecret(client.clientId);
    expect(rotated.client).toMatchObject({ dpop: 'required', groups: ['g'], enabled: false });
  });
});

describe.each(registryBackends())('the DPoP proof replay cache ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  test('a fractional expiry (a proof iat is a NumericDate, RFC 7519 §2) is kept to the next whole second', async () => {
    expect(await t.registry.useOnce('dpop_proof', 'j', t.clock.t + 60.25)).toBe(true);
    expect(await t.registry.useOnce('dpop_proof', 'j', t.clock.t + 60.25)).toBe(false);
    t.clock.advance(61);
    expect(await t.registry.useOnce('dpop_proof', 'j', t.clock.t + 60.25)).toBe(true);
  });
});

/** A client row as a registry at the previous schema version wrote it, with no dpop column. */
const OLD_CLIENT = { clientId: 'old-client', name: 'from before', createdAt: 1_700_000_000 };

describe('SQLite: a file written before migration 4', () => {
  test('is upgraded: its clients are `allowed`, and the column refuses any other value', async () => {
    const { dir, cleanup } = tempDir('ccgate-dpop-mig-');
    const path = join(dir, 'old.db');
    try {
      const raw = new Database(path);
      migrateSqlite(raw, SQLITE_MIGRATIONS.slice(0, 3));
      raw
        .prepare('INSERT INTO clients (client_id, name, type, grant_types, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(OLD_CLIENT.clientId, OLD_CLIENT.name, 'confidential', 'client_credentials', OLD_CLIENT.createdAt, OLD_CLIENT.createdAt);
      raw.close();
      // As ccgate makes its files (and SQLite its -wal and -shm from it): no warning about their mode.
      chmodSync(path, 0o600);
      const registry = new Registry(new SqliteStorage(path), { bcryptCost: 4, pruneIntervalSeconds: 0 });
      try {
        expect(await registry.getClient(OLD_CLIENT.clientId)).toMatchObject({ name: OLD_CLIENT.name, dpop: 'allowed', authMethod: 'client_secret_basic' });
        expect((await registry.setClientDpop(OLD_CLIENT.clientId, 'required')).dpop).toBe('required');
      } finally {
        await registry.close();
      }
      const after = new Database(path);
      try {
        expect(after.pragma('user_version', { simple: true })).toBe(SQLITE_VERSION);
        expect(() => after.prepare("UPDATE clients SET dpop = 'sometimes'").run()).toThrow(/CHECK constraint/);
      } finally {
        after.close();
      }
    } finally {
      cleanup();
    }
  });
});

describePostgres('PostgreSQL: a schema written before migration 5', () => {
  const db = useTestDatabase();

  test('is upgraded: its clients are `allowed`, and the column refuses any other value', async () => {
    const pool = new pg.Pool({ connectionString: withUser(db.url) });
    try {
      await migratePostgres(pool, 'before_dpop', POSTGRES_MIGRATIONS.slice(0, 4));
    } finally {
      await pool.end();
    }
    const raw = await rawConnection(db.url);
    try {
      await raw.rows('INSERT INTO before_dpop.clients (client_id, name, type, grant_types, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)', [
        OLD_CLIENT.clientId,
        OLD_CLIENT.name,
        'confidential',
        ['client_credentials'],
        OLD_CLIENT.createdAt,
      ]);
      const registry = new Registry(new PostgresStorage(db.url, { schema: 'before_dpop' }), { bcryptCost: 4, pruneIntervalSeconds: 0 });
      try {
        expect(await registry.getClient(OLD_CLIENT.clientId)).toMatchObject({ name: OLD_CLIENT.name, dpop: 'allowed' });
        expect((await registry.setClientDpop(OLD_CLIENT.clientId, 'required')).dpop).toBe('required');
      } finally {
        await registry.close();
      }
      expect(await raw.rows('SELECT count(*)::int AS n FROM before_dpop.ccgate_migrations')).toEqual([{ n: POSTGRES_VERSION }]);
      await expect(raw.rows("UPDATE before_dpop.clients SET dpop = 'sometimes'")).rejects.toMatchObject({ code: '23514' });
    } finally {
      await raw.close();
    }
  });
});
