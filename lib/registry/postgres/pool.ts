import pg, { type PoolClient, type QueryConfig, type QueryResult, type QueryResultRow } from 'pg';
import { storageError } from './errors';
import { QUERY_TIMEOUT_MARGIN_MS, type ResolvedPostgresOptions } from './options';

/** application_name of the pool's connections and of the listening one: how to find them in pg_stat_activity. */
export const APPLICATION_NAME = 'ccgate';
export const LISTEN_APPLICATION_NAME = 'ccgate-listen';

const INT8_OID = 20;

/** bigint columns (Unix seconds, counts) as JS numbers: every value we store is far inside the safe range. */
function typeParsers(): pg.TypeOverrides {
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, Number);
  return types;
}

/** What both the pool and the listening connection share: where, who, and how long to wait. */
export function connectionConfig(options: ResolvedPostgresOptions, applicationName: string): pg.ClientConfig {
  return {
    connectionString: options.connectionString,
    application_name: applicationName,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
    keepAlive: true,
    types: typeParsers(),
  };
}

export function createPool(options: ResolvedPostgresOptions): pg.Pool {
  const pool = new pg.Pool({
    ...connectionConfig(options, APPLICATION_NAME),
    max: options.poolSize,
    // Idle connections never keep the process alive (close() ends them all anyway).
    allowExitOnIdle: true,
  });
  // An idle connection that dies (server restart, pg_terminate_backend) is reported here; pg-pool has
  // already dropped it and the next query opens a new one. Unhandled, the event would end the process.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs statements: the pool (each statement its own transaction) or one connection inside a transaction. */
export interface Executor {
  rows<R extends QueryResultRow>(text: string, values?: unknown[], name?: string): Promise<R[]>;
  /** How many rows the statement wrote. */
  run(text: string, values?: unknown[]): Promise<number>;
}

class ClientExecutor implements Executor {
  constructor(private readonly client: PoolClient) {}

  async rows<R extends QueryResultRow>(text: string, values: unknown[] = [], name?: string): Promise<R[]> {
    return (await this.client.query<R>({ text, values, name })).rows;
  }

  async run(text: string, values: unknown[] = []): Promise<number> {
    return (await this.client.query({ text, values })).rowCount ?? 0;
  }
}

/**
 * The pool as the storage modules see it: every call first waits for `ready` (the storage's open),
 * and every failure that means the database is out of reach comes out as RegistryUnavailableError.
 */
export class Database implements Executor {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ready: () => Promise<void>,
  ) {}

  async query<R extends QueryResultRow>(config: QueryConfig): Promise<QueryResult<R>> {
    await this.ready();
    try {
      return await this.pool.query<R>(config);
    } catch (err) {
      throw storageError(err);
    }
  }

  async rows<R extends QueryResultRow>(text: string, values: unknown[] = [], name?: string): Promise<R[]> {
    return (await this.query<R>({ text, values, name })).rows;
  }

  async run(text: string, values: unknown[] = []): Promise<number> {
    return (await this.query({ text, values })).rowCount ?? 0;
  }

  /** `work` in one transaction: committed when it returns, rolled back when it throws. */
  async transaction<T>(work: (tx: Executor) => Promise<T>): Promise<T> {
    await this.ready();
    try {
      return await withClient(this.pool, (client) => inTransaction(client, work));
    } catch (err) {
      throw storageError(err);
    }
  }
}

/**
 * One connection of the pool for `work`. While it is checked out an 'error' event (the server went
 * away) is the failing query's business, not the process's; after a failure the connection is
 * discarded rather than reused in an unknown state (which also ends any session lock it held).
 */
export async function withClient<T>(pool: pg.Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const ignore = (): void => undefined;
  client.on('error', ignore);
  let failed = false;
  try {
    return await work(client);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    client.off('error', ignore);
    client.release(failed);
  }
}

async function inTransaction<T>(client: PoolClient, work: (tx: Executor) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work(new ClientExecutor(client));
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // Best effort: on a broken connection the rollback fails too, and the connection is discarded.
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
