/**
 * PostgreSQL in tests: the server at CCGATE_TEST_PG_URL (default postgres://127.0.0.1:5432/test),
 * fresh databases and schemas with random names (so runs never see each other's data), a raw
 * connection for looking at rows, and the contract suite's postgres backend. Without a server the
 * PostgreSQL suites are skipped with one line, except under CI=true, where they fail.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { DEFAULTS } from '../../lib/defaults';
import { PostgresStorage, type PostgresOptions } from '../../lib/registry/postgres';
import { withUser } from '../../lib/registry/postgres/options';
import type { RegistryStorage } from '../../lib/registry/storage';
import type { BackendInstance, InsertFilter, RegistryBackend } from './backends';
import { sleep } from './time';

export const PG_URL = process.env.CCGATE_TEST_PG_URL ?? 'postgres://127.0.0.1:5432/test';

/** `url` naming another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** `url` with `?schema=` set. */
export function withSchema(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('schema', schema);
  return parsed.toString();
}

/** A name no other run uses: a prefix and 12 random hex digits (a valid unquoted identifier). */
export const randomName = (prefix: string): string => `${prefix}_${randomBytes(6).toString('hex')}`;

// ---- Is there a server? ----

const PROBE = `
const { Client } = require(process.env.CCGATE_PG_MODULE);
const client = new Client({ connectionString: process.env.CCGATE_TEST_PG_URL, connectionTimeoutMillis: 3000 });
client.connect().then(() => client.end()).then(() => process.exit(0), (err) => { process.stderr.write(String(err && (err.message || err.code))); process.exit(1); });
`;

/**
 * Why PostgreSQL does not answer at PG_URL, or null when it does. Jest collects suites
 * synchronously, so this asks in a child process, once per test file (kept in its process.env).
 */
export function postgresProblem(): string | null {
  const known = process.env.CCGATE_TEST_PG_PROBLEM;
  if (known !== undefined) return known === '' ? null : known;
  const probe = spawnSync(process.execPath, ['-e', PROBE], {
    env: { ...process.env, CCGATE_TEST_PG_URL: withUser(PG_URL), CCGATE_PG_MODULE: require.resolve('pg') },
    timeout: 10_000,
    encoding: 'utf8',
  });
  const problem = probe.status === 0 ? '' : probe.stderr.trim() || probe.error?.message || `probe exited with ${String(probe.status)}`;
  process.env.CCGATE_TEST_PG_PROBLEM = problem;
  return problem === '' ? null : problem;
}

const requiredInCi = (): boolean => process.env.CI === 'true';
const unreachable = (problem: string): string => `PostgreSQL does not answer at ${PG_URL} (${problem})`;

/** One line per test file, however many of its suites are skipped. */
function noteSkipped(problem: string): void {
  if (process.env.CCGATE_TEST_PG_NOTED) return;
  process.env.CCGATE_TEST_PG_NOTED = '1';
  process.stderr.write(`${unreachable(problem)}: PostgreSQL tests skipped (set CCGATE_TEST_PG_URL; under CI=true they fail instead)\n`);
}

/** describe() when PostgreSQL answers; otherwise skipped with one line, or one failing test under CI=true. */
export function describePostgres(name: string, fn: () => void): void {
  const problem = postgresProblem();
  if (problem !== null && requiredInCi()) {
    describe(name, () => {
      test('PostgreSQL answers (CI=true requires it)', () => {
        throw new Error(unreachable(problem));
      });
    });
    return;
  }
  if (problem !== null) noteSkipped(problem);
  const register = problem === null ? describe : describe.skip;
  register(name, fn);
}

// ---- Raw connections, databases ----

/** A connection of the test's own, bigint as numbers (as the storage reads them). */
export interface RawConnection {
  client: pg.Client;
  rows<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

export async function rawConnection(url: string = PG_URL): Promise<RawConnection> {
  const types = new pg.TypeOverrides();
  types.setTypeParser(20, Number);
  const client = new pg.Client({ connectionString: withUser(url), types, application_name: 'ccgate-test' });
  client.on('error', () => undefined);
  await client.connect();
  return {
    client,
    rows: async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await client.query<R>(text, values)).rows,
    close: () => client.end().catch(() => undefined),
  };
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database with a random name; drop() ends its connections and removes it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = randomName('ccgate_test');
  const admin = await rawConnection(PG_URL);
  try {
    await admin.rows(`CREATE DATABASE ${quote(name)}`);
  } finally {
    await admin.close();
  }
  return { name, url: withDatabase(PG_URL, name), drop: () => dropDatabase(name) };
}

async function dropDatabase(name: string): Promise<void> {
  const admin = await rawConnection(PG_URL);
  try {
    await terminate(admin, name);
    await admin.rows(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`);
  } finally {
    await admin.close();
  }
}

/** A server process serving a connection (pg_stat_activity), and what it last ran. */
export interface Backend {
  pid: number;
  applicationName: string;
  /** The client's TCP port (null over a Unix socket). */
  clientPort: number | null;
  /** Its current or last statement. */
  query: string;
}

/**
 * The connections to database `name` other than `raw`'s own: those of `applicationName` only, when
 * given, and only those from `clientPorts` (the client side's local ports: a proxy's serverPorts()), when given.
 */
export async function backends(raw: RawConnection, name: string, applicationName?: string, clientPorts?: Iterable<number>): Promise<Backend[]> {
  const ports = clientPorts === undefined ? null : [...clientPorts];
  return raw.rows<Backend>(
    `SELECT pid, application_name AS "applicationName", client_port AS "clientPort", query FROM pg_stat_activity
     WHERE datname = $1 AND pid <> pg_backend_pid() AND ($2::text IS NULL OR application_name = $2) AND ($3::int[] IS NULL OR client_port = ANY ($3))`,
    [name, applicationName ?? null, ports],
  );
}

/** Ends the connections to database `name` (filtered as by backends()); how many. */
export async function terminate(raw: RawConnection, name: string, applicationName?: string, clientPorts?: Iterable<number>): Promise<number> {
  const rows = await backends(raw, name, applicationName, clientPorts);
  for (const { pid } of rows) await raw.rows('SELECT pg_terminate_backend($1)', [pid]);
  return rows.length;
}

/**
 * A fresh database for the enclosing suite: created before its tests, dropped after them. Read
 * `url` and `name` inside tests and hooks (they are set in beforeAll).
 */
export function useTestDatabase(): TestDatabase {
  let db: TestDatabase | undefined;
  const current = (): TestDatabase => {
    if (!db) throw new Error('the test database exists only inside tests and hooks');
    return db;
  };
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  return {
    get name() {
      return current().name;
    },
    get url() {
      return current().url;
    },
    drop: () => current().drop(),
  };
}

// ---- Faults ----

/**
 * A TCP proxy in front of the server at PG_URL, to take "the database" away and bring it back:
 * stop() refuses new connections and cuts the open ones; start() listens again on the same port.
 * stall() silences chosen connections instead: a connection that died without a word.
 */
export interface PostgresProxy {
  /** PG_URL through the proxy, for database `database`. */
  url(database: string): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The local ports of the proxy's open connections to the server: their client_port in pg_stat_activity (see backends()). */
  serverPorts(): number[];
  /**
   * Stops forwarding, both ways, on the connections whose server side is on one of `ports`, and
   * leaves them open: neither end hears of it (until stop()). How many it stalled.
   */
  stall(ports: Iterable<number>): number;
  /** The server stops answering: every open connection is stalled, new ones are accepted and never answered, until stop(). */
  hang(): void;
}

/** No more bytes either way on this connection, and no word of it to either end. */
function silence({ incoming, outgoing }: { incoming: Socket; outgoing: Socket }): void {
  incoming.unpipe(outgoing);
  outgoing.unpipe(incoming);
  incoming.pause();
  outgoing.pause();
}

export async function postgresProxy(): Promise<PostgresProxy> {
  const target = new URL(PG_URL);
  const sockets = new Set<Socket>();
  const links = new Set<{ incoming: Socket; outgoing: Socket }>();
  let server: Server | undefined;
  let port = 0;
  let hanging = false;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const start = async (): Promise<void> => {
    hanging = false;
    const listening = createServer((incoming) => {
      track(incoming);
      if (hanging) return;
      const outgoing = connect(Number(target.port || 5432), target.hostname);
      const link = { incoming, outgoing };
      links.add(link);
      track(outgoing);
      incoming.pipe(outgoing).pipe(incoming);
      incoming.on('close', () => outgoing.destroy());
      outgoing.on('close', () => {
        links.delete(link);
        incoming.destroy();
      });
    });
    await new Promise<void>((resolve) => listening.listen(port, '127.0.0.1', resolve));
    port = (listening.address() as AddressInfo).port;
    server = listening;
  };
  const stop = async (): Promise<void> => {
    const closing = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  await start();
  return {
    url: (database) => {
      const url = new URL(withDatabase(PG_URL, database));
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    start,
    stop,
    serverPorts: () => [...links].map((link) => link.outgoing.localPort).filter((p): p is number => p !== undefined),
    stall(ports) {
      const chosen = new Set(ports);
      let stalled = 0;
      for (const link of links) {
        if (link.outgoing.localPort === undefined || !chosen.has(link.outgoing.localPort)) continue;
        silence(link);
        stalled++;
      }
      return stalled;
    },
    hang() {
      hanging = true;
      for (const link of links) silence(link);
    },
  };
}

/** A port on which nothing listens (just freed): connections to it are refused at once. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A server that accepts connections and never answers (a hung database); close() ends it. */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- The contract suite's backend ----

/**
 * The contract's storages keep a short staleness bound, so that changesSeen() (which waits it out) is
 * quick; the change feed polls every 100 ms then.
 */
const CONTRACT_OPTIONS: PostgresOptions = { maxStalenessMs: 200 };

/**
 * One fresh schema (random name) in the database at PG_URL per instance: quick to make and to drop,
 * and as private as a database (locks and notification channels are per schema too).
 */
export function postgresBackend(options: PostgresOptions = {}): RegistryBackend {
  return { name: 'postgres', create: () => Promise.resolve(createInstance({ ...CONTRACT_OPTIONS, ...options })) };
}

/** For registryBackends(): the postgres backend, none (with one line) without a server, or a failing one under CI=true. */
export function postgresBackends(options: PostgresOptions = {}): RegistryBackend[] {
  const problem = postgresProblem();
  if (problem === null) return [postgresBackend(options)];
  if (requiredInCi()) return [{ name: 'postgres', create: () => Promise.reject(new Error(`${unreachable(problem)}; CI=true requires it`)) }];
  noteSkipped(problem);
  return [];
}

function createInstance(options: PostgresOptions): BackendInstance {
  const schema = randomName('ccgate_contract');
  const url = withSchema(PG_URL, schema);
  const opened: RegistryStorage[] = [];
  let raw: Promise<RawConnection> | undefined;
  const sql = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> =>
    (await (raw ??= rawConnection())).rows<R>(text, values);
  const open = (): RegistryStorage => {
    const storage = new PostgresStorage(url, options);
    opened.push(storage);
    return storage;
  };
  let triggers = 0;
  return {
    storage: open(),
    openAnother: open,
    tables: async () =>
      (
        await sql<{ table_name: string }>(
          `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name COLLATE "C"`,
          [schema],
        )
      ).map((row) => row.table_name),
    rawRows: (table) => sql(`SELECT * FROM ${quote(schema)}.${quote(table)}`),
    failInserts: async (table, message, filter) => {
      const trigger = quote(`contract_fail_${++triggers}`);
      const target = `${quote(schema)}.${quote(table)}`;
      await sql(failingTrigger(schema, trigger, target, message, filter));
      return async () => {
        await sql(`DROP TRIGGER ${trigger} ON ${target}; DROP FUNCTION ${quote(schema)}.${trigger}()`);
      };
    },
    // Once the bound has passed since a commit, every feed has announced it or is not current() (reads through).
    changesSeen: () => sleep((options.maxStalenessMs ?? DEFAULTS.postgres.maxStalenessMs) + TIMER_SLACK_MS),
    async cleanup() {
      for (const storage of opened) await storage.close();
      await sql(`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`);
      await (await raw)?.close();
    },
  };
}

/** A timer may fire a little early against performance.now(), which the feed dates confirmations by. */
const TIMER_SLACK_MS = 25;

const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** A row trigger (and its function, both named `trigger`) raising `message` on inserts into `table` that match `filter`. */
function failingTrigger(schema: string, trigger: string, table: string, message: string, filter: InsertFilter | undefined): string {
  const when = filter ? `WHEN (NEW.${quote(filter.column)}::text = ${literal(filter.equals)})` : '';
  const fn = `${quote(schema)}.${trigger}`;
  return `
    CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '%', ${literal(message)}; END $$;
    CREATE TRIGGER ${trigger} BEFORE INSERT ON ${table} FOR EACH ROW ${when} EXECUTE FUNCTION ${fn}();`;
}
