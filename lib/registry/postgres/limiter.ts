import type { QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import type { LimiterOptions } from '../storage';
import { THROTTLE_TABLE, type Tables } from './names';
import type { Database, Executor } from './pool';

/**
 * rate-limiter-flexible in the registry's database: every instance shares the counters. The limiter
 * talks to the pool through the storage's Database, a pool to its eyes (storeType 'pool': it only
 * calls query()), so it too waits for open() (the table comes from migration 3: tableCreated) and
 * an unreachable database fails it with RegistryUnavailableError. Expired rows go in the registry's
 * prune, so the limiter runs no timer of its own (clearExpiredByTimeout: false).
 */
export function postgresLimiter(db: Database, schema: string, options: LimiterOptions): RateLimiterPostgres {
  const storeClient = { query: <R extends QueryResultRow>(config: QueryConfig): Promise<QueryResult<R>> => db.query<R>(config) };
  return new RateLimiterPostgres({
    storeClient,
    storeType: 'pool',
    schemaName: schema,
    tableName: THROTTLE_TABLE,
    tableCreated: true,
    clearExpiredByTimeout: false,
    keyPrefix: options.keyPrefix,
    points: options.points,
    duration: options.durationSeconds,
    blockDuration: options.blockDurationSeconds,
  });
}

/** The limiter's rows expired at or before `beforeMs` (its expire column is in milliseconds; NULL never expires). */
export function deleteExpiredThrottle(ex: Executor, t: Tables, beforeMs: number): Promise<number> {
  return ex.run(`DELETE FROM ${t.throttle} WHERE expire <= $1`, [beforeMs]);
}
