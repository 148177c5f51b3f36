/**
 * Many instances on one PostgreSQL database (test/instances/): fixture servers as child processes on
 * a fresh database, the CLI on the same database, polling every instance until a change shows, and a
 * debug log of what was measured (INSTANCES_DEBUG=1). Timings are logged, never asserted: the only
 * deadlines are generous ones (a bound plus scheduling slack).
 */
import { runCliAsync, type CliResult } from './cli';
import { createTestDatabase, postgresProxy, rawConnection, type PostgresProxy, type RawConnection, type TestDatabase } from './postgres';
import { startChildServer, type ChildServer } from './processes';
import { eventually } from './time';

/** One line of the debug log on stderr, when INSTANCES_DEBUG is set. */
export function note(event: string, data: object = {}): void {
  if (process.env.INSTANCES_DEBUG) process.stderr.write(`[instances] ${event} ${JSON.stringify(data)}\n`);
}

export interface UseInstancesOptions {
  /** ccgate() options of every instance (see fixtures/server.js). */
  options?: Record<string, unknown>;
  /**
   * Connect the instances (true), or those of these indexes, through a TCP proxy (postgresProxy) that
   * a test can stop, start, or stall connections of; the others connect directly.
   */
  throughProxy?: boolean | number[];
}

/** What useInstances() gives the tests of a file; read it inside tests and hooks. */
export interface Instances {
  db: TestDatabase;
  /** A connection of the test's own to the database. */
  raw: RawConnection;
  nodes: ChildServer[];
  /** The proxy the chosen instances connect through (throughProxy only). */
  proxy: PostgresProxy;
  /** `ccgate --db <url> ...args` (direct, never through the proxy). */
  cli(args: string[]): Promise<CliResult>;
  /** `ccgate --db <url> --json ...args`, expecting exit 0; the parsed output. */
  cliJson<T = any>(args: string[]): Promise<T>;
}

/**
 * A fresh database and `count` fixture servers on it, for the enclosing describe block; stopped and
 * dropped after it.
 */
export function useInstances(count: number, use: UseInstancesOptions = {}): Instances {
  let state: { db: TestDatabase; raw: RawConnection; nodes: ChildServer[]; proxy?: PostgresProxy } | undefined;
  const current = (): NonNullable<typeof state> => {
    if (!state) throw new Error('the instances exist only inside tests and hooks');
    return state;
  };
  const cli = (args: string[]): Promise<CliResult> => runCliAsync(args, { db: current().db.url });
  beforeAll(async () => {
    const started = Date.now();
    const db = await createTestDatabase();
    const nodes: ChildServer[] = [];
    state = { db, raw: await rawConnection(db.url), nodes, proxy: use.throughProxy ? await postgresProxy() : undefined };
    const { proxy } = state;
    const proxied = (i: number): boolean => use.throughProxy === true || (Array.isArray(use.throughProxy) && use.throughProxy.includes(i));
    // Each recorded as soon as it listens, so that afterAll stops it even if another one fails to start.
    const start = async (i: number): Promise<void> => {
      nodes[i] = await startChildServer(proxy && proxied(i) ? proxy.url(db.name) : db.url, { options: use.options });
    };
    // The first one migrates the database and makes the signing key; the others then start at once.
    await start(0);
    const rest = await Promise.allSettled(Array.from({ length: count - 1 }, (_, i) => start(i + 1)));
    for (const result of rest) if (result.status === 'rejected') throw result.reason;
    note('instances started', { count, ms: Date.now() - started });
  });
  afterAll(async () => {
    if (!state) return;
    const started = Date.now();
    const { db, raw, nodes, proxy } = state;
    await Promise.all(nodes.map((node) => node.stop()));
    await proxy?.stop();
    await raw.close();
    await db.drop();
    note('instances stopped', { ms: Date.now() - started });
  });
  return {
    get db() {
      return current().db;
    },
    get raw() {
      return current().raw;
    },
    get nodes() {
      return current().nodes;
    },
    get proxy() {
      const { proxy } = current();
      if (!proxy) throw new Error('useInstances({ throughProxy: true }) makes the proxy');
      return proxy;
    },
    cli,
    async cliJson<T>(args: string[]): Promise<T> {
      const result = await cli(['--json', ...args]);
      if (result.status !== 0) throw new Error(`ccgate ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    },
  };
}

/**
 * Polls `probe` at every one of `nodes` (concurrently, every 10 ms) until it holds there; fails
 * unless it holds everywhere within `withinMs` of `since` (a Date.now()). Returns how long each
 * instance took after `since`, and logs it under `label`.
 */
export async function seenEverywhere(
  label: string,
  nodes: ChildServer[],
  probe: (node: ChildServer) => Promise<boolean>,
  { since, withinMs }: { since: number; withinMs: number },
): Promise<number[]> {
  const times = await Promise.all(
    nodes.map(async (node, i) => {
      try {
        return await eventually(async () => ((await probe(node)) ? Date.now() - since : undefined), {
          withinMs: Math.max(0, since + withinMs - Date.now()),
          everyMs: 10,
        });
      } catch {
        throw new Error(`${label}: not seen at instance ${i} (${node.url}) within ${withinMs} ms`);
      }
    }),
  );
  note('propagated', { label, ms: times });
  return times;
}
