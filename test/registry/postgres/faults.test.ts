import { RegistryUnavailableError } from '../../../lib/errors';
import { PostgresStorage, type PostgresOptions } from '../../../lib/registry/postgres';
import {
  closedPort,
  describePostgres,
  postgresProxy,
  rawConnection,
  silentServer,
  terminate,
  useTestDatabase,
  withDatabase,
  PG_URL,
  type PostgresProxy,
  type RawConnection,
} from '../../support/postgres';

const LIMITS = { keyPrefix: 'f', points: 5, durationSeconds: 60, blockDurationSeconds: 60 };

/** How long `work` took to settle, and how (the rejection, or undefined when it resolved). */
async function settle(work: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  try {
    await work();
    return { ms: Date.now() - started, error: undefined };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

describePostgres('PostgreSQL faults', () => {
  const db = useTestDatabase();
  let raw: RawConnection;
  const storages: PostgresStorage[] = [];
  const storage = (url: string, options: PostgresOptions = {}): PostgresStorage => {
    const made = new PostgresStorage(url, { schema: 'faults', ...options });
    storages.push(made);
    return made;
  };
  beforeAll(async () => {
    raw = await rawConnection(db.url);
  });
  afterEach(async () => {
    for (const made of storages.splice(0)) await made.close();
  });
  afterAll(() => raw.close());

  test('construction does no I/O: a storage on a dead address is built and closed without error', async () => {
    const url = withDatabase(PG_URL, 'nowhere').replace(/:\d+\//, `:${await closedPort()}/`);
    await expect(storage(url).close()).resolves.toBeUndefined();
  });

  test('a refused connection fails every call at once with RegistryUnavailableError (no waiting for a timeout), every time', async () => {
    const url = db.url.replace(/:\d+\//, `:${await closedPort()}/`);
    const dead = storage(url, { connectTimeoutMs: 10_000 });
    const calls: Array<() => Promise<unknown>> = [
      () => dead.open(),
      () => dead.ping(),
      () => dead.groups.list(),
      () => dead.clients.credentials('c', 1),
      () => dead.revocations.status('j', 'c'),
      () => dead.prune({ revocations: 1, replay: 1 }),
      () => dead.limiter(LIMITS).consume('k'),
      () => dead.open(),
    ];
    for (const call of calls) {
      const { ms, error } = await settle(call);
      expect(error).toBeInstanceOf(RegistryUnavailableError);
      expect((error as RegistryUnavailableError).retryAfterSeconds).toBeGreaterThan(0);
      expect(ms).toBeLessThan(2000);
    }
  });

  test('a server that accepts and never answers fails after connectTimeoutMs, not later', async () => {
    const hung = await silentServer();
    try {
      const stuck = storage(db.url.replace(/:\d+\//, `:${hung.port}/`), { connectTimeoutMs: 300 });
      const { ms, error } = await settle(() => stuck.groups.list());
      expect(error).toBeInstanceOf(RegistryUnavailableError);
      expect(ms).toBeLessThan(3000);
    } finally {
      await hung.close();
    }
  });

  describe('the database going away and coming back', () => {
    let proxy: PostgresProxy;
    beforeAll(async () => {
      proxy = await postgresProxy();
    });
    afterAll(() => proxy.stop());

    test('calls fail fast while it is away, and succeed again once it is back, on the same storage', async () => {
      const s = storage(proxy.url(db.name));
      await s.groups.insert('before', [], 1);
      await proxy.stop();
      for (const call of [() => s.groups.list(), () => s.ping(), () => s.limiter(LIMITS).get('k')]) {
        const { ms, error } = await settle(call);
        expect(error).toBeInstanceOf(RegistryUnavailableError);
        expect(ms).toBeLessThan(2000);
      }
      await proxy.start();
      expect((await s.groups.list()).map((g) => g.name)).toContain('before');
      await expect(s.ping()).resolves.toBeUndefined();
    });

    test('a storage that could not open while it was away opens by itself on a later call', async () => {
      await proxy.stop();
      const s = storage(proxy.url(db.name));
      await expect(s.open()).rejects.toBeInstanceOf(RegistryUnavailableError);
      await proxy.start();
      await expect(s.groups.list()).resolves.toEqual(expect.any(Array));
    });
  });

  test('pooled connections terminated by the server: a query in flight fails with RegistryUnavailableError, idle ones are replaced quietly', async () => {
    const s = storage(db.url);
    await s.open();
    await raw.rows('BEGIN');
    await raw.rows('LOCK TABLE faults.groups IN ACCESS EXCLUSIVE MODE');
    const blocked = settle(() => s.groups.list());
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await terminate(raw, db.name, 'ccgate')).toBeGreaterThan(0);
      const { error } = await blocked;
      expect(error).toBeInstanceOf(RegistryUnavailableError);
      expect((error as Error).message).toMatch(/terminating connection due to administrator command|Connection terminated/);
    } finally {
      await raw.rows('COMMIT');
    }
    // Service resumes by itself; killing idle pooled connections neither crashes the process nor fails the next call.
    await expect(s.groups.list()).resolves.toEqual(expect.any(Array));
    await terminate(raw, db.name, 'ccgate');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(s.groups.list()).resolves.toEqual(expect.any(Array));
  });

  test('a statement held past statementTimeoutMs fails with RegistryUnavailableError after about that long', async () => {
    const s = storage(db.url, { statementTimeoutMs: 300 });
    await s.open();
    await raw.rows('BEGIN');
    try {
      await raw.rows('LOCK TABLE faults.groups IN ACCESS EXCLUSIVE MODE');
      const { ms, error } = await settle(() => s.groups.list());
      expect(error).toBeInstanceOf(RegistryUnavailableError);
      expect(ms).toBeLessThan(3000);
    } finally {
      await raw.rows('COMMIT');
    }
    await expect(s.groups.list()).resolves.toEqual(expect.any(Array));
  });

  test('a full pool fails a call after connectTimeoutMs with RegistryUnavailableError', async () => {
    const s = storage(db.url, { poolSize: 1, connectTimeoutMs: 300 });
    await s.open();
    await raw.rows('BEGIN');
    try {
      await raw.rows('LOCK TABLE faults.groups IN ACCESS EXCLUSIVE MODE');
      const holding = settle(() => s.groups.list());
      const { ms, error } = await settle(() => s.clients.list(1));
      expect(error).toBeInstanceOf(RegistryUnavailableError);
      expect(ms).toBeLessThan(3000);
      await raw.rows('COMMIT');
      expect((await holding).error).toBeUndefined();
    } finally {
      await raw.rows('ROLLBACK').catch(() => undefined);
    }
  });

  test('a constraint violation the interface has no answer for propagates as it is, not as unavailability', async () => {
    const s = storage(db.url);
    const row = {
      clientId: 'c',
      name: 'n',
      type: 'public' as const,
      grantTypes: ['client_credentials' as const],
      groups: [],
      authMethod: 'client_secret_basic' as const,
      secretHash: null,
      jwks: null,
      jwksUri: null,
      dpop: 'allowed' as const,
      createdAt: 1,
    };
    const { error } = await settle(() => s.clients.insert({ ...row, tokenTtl: 0 }));
    expect(error).not.toBeInstanceOf(RegistryUnavailableError);
    expect(error).toMatchObject({ code: '23514' });
    await expect(s.clients.insert({ ...row, tokenTtl: null })).resolves.toMatchObject({ clientId: 'c' });
  });
});
