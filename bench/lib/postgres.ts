/**
 * PostgreSQL for the bench. The server is the one BENCH_PG_URL names (default
 * postgres://127.0.0.1:5432/postgres): the bench connects to that database only to create and drop
 * databases of its own, ccgate_bench_<random hex>, one per seeded registry. Each is dropped by
 * cleanupAll() (at the end of its scenario, when the scenario fails, and on Ctrl-C).
 *
 * The database's backend processes run the SQL the server under test sends: they are part of the
 * system under test, not machine noise. DatabaseCpu reads their CPU time from /proc (the database
 * runs on this machine), so that the noise indicator leaves it out and the notes report it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { redactedDb } from '../../lib';
import { withUser } from '../../lib/registry/postgres/options';
import type { CompanionCpu } from './common';
import { assertNotInterrupted, onCleanup, processCpuMicros } from './harness';

export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://127.0.0.1:5432/postgres';
const CONNECT_TIMEOUT_MS = 3000;

/** A client of the admin database; connected, with its idle 'error' events absorbed (a query still fails). */
async function adminClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: withUser(PG_ADMIN_URL), connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'ccgate-bench' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await adminClient();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

let probe: Promise<string | null> | undefined;

/** Why the bench cannot use PostgreSQL (no answer, or too old for DROP DATABASE ... WITH (FORCE)), or null. Asked once per run. */
export function postgresProblem(): Promise<string | null> {
  probe ??= withAdmin(async (client) => {
    const { rows } = await client.query<{ version: number }>(`SELECT current_setting('server_version_num')::int AS version`);
    return rows[0].version >= 130000 ? null : `PostgreSQL ${rows[0].version} is older than 13`;
  }).catch((err: unknown) => `PostgreSQL does not answer at ${redactedDb(PG_ADMIN_URL)} (${err instanceof Error ? err.message || err.name : String(err)})`);
  return probe;
}

/** `url` naming another database (user, host, port and parameters kept). */
function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

export interface BenchDatabase {
  name: string;
  /** The URL a ccgate server is given (the admin URL naming this database). */
  url: string;
  /** For the bench's own connections: with the operating-system user filled in where the URL names none, as ccgate does. */
  connectionString: string;
}

/** A new, empty database, dropped at the next cleanupAll(). */
export async function createDatabase(): Promise<BenchDatabase> {
  const name = `ccgate_bench_${randomBytes(6).toString('hex')}`;
  assertNotInterrupted(`database ${name}`);
  const created = withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  // Registered before the database exists, so that a Ctrl-C meanwhile waits for it and drops it too.
  // Children are killed before cleanups run; FORCE ends whatever connection a killed server left.
  onCleanup(`database ${name}`, async () => {
    if (
      await created.then(
        () => true,
        () => false,
      )
    ) {
      await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    }
  });
  await created;
  const url = withDatabase(PG_ADMIN_URL, name);
  return { name, url, connectionString: withUser(url) };
}

/** Connections to `database` still open after `waitMs` (0 once every server on it has closed cleanly). */
export async function openConnections(database: string, waitMs = 2000): Promise<number> {
  return withAdmin(async (client) => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [database]);
      if (rows[0].n === 0 || Date.now() >= deadline) return rows[0].n;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
}

let sampler: Promise<{ client: pg.Client; local: boolean }> | undefined;

/** One admin connection for every CPU sample of the run (closed by cleanupAll()); `local`: its backend is a process of this machine. */
function cpuSampler(): Promise<{ client: pg.Client; local: boolean }> {
  sampler ??= (async () => {
    const client = await adminClient();
    onCleanup('PostgreSQL CPU sampler', async () => {
      sampler = undefined;
      await client.end().catch(() => undefined);
    });
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return { client, local: processCpuMicros([rows[0].pid], 'postgres').size === 1 };
  })();
  return sampler;
}

/**
 * CPU time of the backend processes connected to one database (per pid, µs), read from /proc:
 * null when the PostgreSQL server is not a process of this machine.
 */
export class DatabaseCpu implements CompanionCpu {
  readonly label = 'database';

  constructor(private readonly database: string) {}

  async sample(): Promise<Map<number, number> | null> {
    const { client, local } = await cpuSampler();
    if (!local) return null;
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [this.database]);
    return processCpuMicros(
      rows.map((r) => r.pid),
      'postgres',
    );
  }
}
