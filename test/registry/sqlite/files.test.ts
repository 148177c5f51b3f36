/**
 * The registry's files on disk, for real: created 0600 (with their -wal and -shm), a warning for an
 * existing file others may read, and files replaced or removed under an open registry (a `mv` of a
 * backup over it, a deleted -shm) refused loudly instead of writes acknowledged and lost.
 */
import { chmodSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import request from 'supertest';
import { RegistryFileChangedError, RegistryUnavailableError } from '../../../lib';
import { SqliteStorage } from '../../../lib/registry/sqlite';
import { seedClient } from '../../support/clients';
import { bearerGet, getToken } from '../../support/oauth';
import { createTestServer } from '../../support/servers';
import { tempDir, tempRegistry, type TempRegistry } from '../../support/temp';

const modeOf = (path: string): number => statSync(path).mode & 0o777;
const companions = (path: string): string[] => [path, `${path}-wal`, `${path}-shm`];

let warn: jest.SpyInstance;
beforeEach(() => {
  warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
});
afterEach(() => warn.mockRestore());
const warnings = (code: string): string[] =>
  warn.mock.calls.filter((call) => (call[1] as { code?: string } | undefined)?.code === code).map((call) => String(call[0]));

describe('file modes', () => {
  test('a new registry file, its -wal and its -shm are 0600, whatever the umask', async () => {
    const previous = process.umask(0);
    try {
      const t = tempRegistry();
      try {
        await t.registry.createGroup('g', ['a']);
        expect(companions(t.path).map((f) => [f, modeOf(f)])).toEqual(companions(t.path).map((f) => [f, 0o600]));
      } finally {
        await t.cleanup();
      }
    } finally {
      process.umask(previous);
    }
    expect(warnings('CCGATE_REGISTRY_FILE_MODE')).toEqual([]);
  });

  test('an existing registry file readable by others: one warning per file, saying what to run', async () => {
    const { dir, cleanup } = tempDir();
    const path = join(dir, 'registry.db');
    try {
      await new SqliteStorage(path).close();
      chmodSync(path, 0o644);
      await new SqliteStorage(path).close();
      await new SqliteStorage(path).close();
      // SQLite gave the -wal and -shm it made the database file's mode: each is named once.
      expect(warnings('CCGATE_REGISTRY_FILE_MODE')).toEqual(
        companions(path).map(
          (file) =>
            `ccgate: the registry file ${file} is accessible to other users (mode 0644); it holds client secret hashes and signing keys. Restrict it: chmod 600 ${file}`,
        ),
      );
      expect(modeOf(path)).toBe(0o644); // warned about, not changed behind the operator's back
    } finally {
      cleanup();
    }
  });
});

describe('files replaced or removed under an open registry', () => {
  let t: TempRegistry;
  beforeEach(async () => {
    t = tempRegistry();
    await t.registry.createGroup('before', ['a']);
  });
  afterEach(() => t.cleanup());

  /** SQLite's online backup of the registry (what `sqlite3 registry.db ".backup copy.db"` does). */
  async function backupOf(path: string): Promise<string> {
    const copy = join(t.dir, 'backup.db');
    const source = new Database(path, { readonly: true });
    try {
      await source.backup(copy);
    } finally {
      source.close();
    }
    return copy;
  }

  const groupsIn = (path: string): string[] => {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare<[], string>('SELECT name FROM groups ORDER BY name').pluck().all();
    } finally {
      db.close();
    }
  };

  test('`mv backup.db registry.db` while open: the next write fails loudly and lands nowhere; reads and ping fail too', async () => {
    const backup = await backupOf(t.path);
    renameSync(backup, t.path);
    const err = await t.registry.createGroup('lost', ['a']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryFileChangedError);
    expect(err).toBeInstanceOf(RegistryUnavailableError); // answered 503 wherever the registry is used
    expect((err as Error).message).toMatch(/registry file .* was replaced while open .* restart it/);
    expect(warnings('CCGATE_REGISTRY_FILE_CHANGED')).toHaveLength(1);
    expect(groupsIn(t.path)).toEqual(['before']);
    // From now on everything is refused: the old file's contents are stale to everyone else.
    await expect(t.registry.listGroups()).rejects.toThrow(RegistryFileChangedError);
    await expect(t.registry.ping()).rejects.toThrow(RegistryFileChangedError);
    await expect(t.registry.createGroup('again', ['a'])).rejects.toThrow(RegistryFileChangedError);
    expect(warnings('CCGATE_REGISTRY_FILE_CHANGED')).toHaveLength(1);
  });

  test('the -shm (WAL index) removed while open: the next write fails loudly', async () => {
    unlinkSync(`${t.path}-shm`);
    const err = await t.registry.createGroup('lost', ['a']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryFileChangedError);
    expect((err as RegistryFileChangedError).message).toContain(`${t.path}-shm was deleted while open`);
  });

  test('the database file deleted while open: the next write fails loudly', async () => {
    unlinkSync(t.path);
    await expect(t.registry.revokeToken({ jti: 'j', expiresAt: 2_000_000_000 })).rejects.toThrow(/was deleted while open/);
  });

  test('a read on its own sees the replacement within a second (cached answers stop too)', async () => {
    renameSync(await backupOf(t.path), t.path);
    const later = Date.now() + 1500;
    const clock = jest.spyOn(Date, 'now').mockReturnValue(later);
    try {
      await expect(t.registry.listGroups()).rejects.toThrow(RegistryFileChangedError);
      expect(t.registry.version()).toBeLessThan(0); // the change feed no longer vouches for any cached answer
    } finally {
      clock.mockRestore();
    }
  });

  test('the throttle counters (rate-limiter-flexible on the same file) refuse to write too', async () => {
    const limiter = t.registry.limiter({ keyPrefix: 'x', points: 5, durationSeconds: 60, blockDurationSeconds: 0 });
    await limiter.consume('k');
    unlinkSync(`${t.path}-shm`);
    await expect(limiter.consume('k')).rejects.toThrow(RegistryFileChangedError);
  });
});

describe('files replaced under a running server', () => {
  test('the token endpoint and the guard answer 503, and the fault is reported to onServerError', async () => {
    const faults: unknown[] = [];
    const server = createTestServer({ onServerError: (e) => faults.push(e) });
    try {
      const client = await seedClient(server.auth);
      const token = await getToken(server, client.clientId, client.clientSecret);
      expect((await bearerGet(server.app, token)).status).toBe(200);
      unlinkSync(`${server.dbPath}-shm`);
      await expect(server.auth.registry.revokeToken({ jti: 'x', expiresAt: 2_000_000_000 })).rejects.toThrow(RegistryFileChangedError);

      const issued = await request(server.app)
        .post('/oauth/token')
        .auth(client.clientId, client.clientSecret)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(issued.status).toBe(503);
      expect(issued.body.error).toBe('temporarily_unavailable');
      expect(faults.some((f) => f instanceof RegistryFileChangedError)).toBe(true);
      const guarded = await bearerGet(server.app, token);
      expect(guarded.status).toBe(503);
      expect(guarded.body.error).toBe('temporarily_unavailable');
    } finally {
      await server.close();
    }
  });
});
