import type Database from 'better-sqlite3';
import { RateLimiterSQLite, type RateLimiterRes } from 'rate-limiter-flexible';
import type { LimiterOptions } from '../storage';
import { filesOf } from './database';
import { unavailableIfBusy } from './errors';
import { THROTTLE_TABLE } from './schema';

type Key = string | number;
type Extra = Record<string, unknown>;

/**
 * rate-limiter-flexible on the registry file: every instance sharing the file shares the counters.
 * Its table comes from migration 2 (tableCreated); expired rows go in the registry's prune, so the
 * limiter runs no timer of its own. A busy lock becomes RegistryUnavailableError like everywhere
 * else; the limiter's own answers (a RateLimiterRes rejection: over the limit) pass unchanged.
 */
class SqliteLimiter extends RateLimiterSQLite {
  /** Throws once the registry files were replaced under this process (its writes would be lost). */
  assertUsable: () => void = () => undefined;

  override consume(key: Key, points?: number, options?: Extra): Promise<RateLimiterRes> {
    return this.guarded(() => super.consume(key, points, options));
  }
  override penalty(key: Key, points?: number, options?: Extra): Promise<RateLimiterRes> {
    return this.guarded(() => super.penalty(key, points, options));
  }
  override reward(key: Key, points?: number, options?: Extra): Promise<RateLimiterRes> {
    return this.guarded(() => super.reward(key, points, options));
  }
  override get(key: Key, options?: Extra): Promise<RateLimiterRes | null> {
    return this.guarded(() => super.get(key, options));
  }
  override set(key: Key, points: number, seconds: number, options?: Extra): Promise<RateLimiterRes> {
    return this.guarded(() => super.set(key, points, seconds, options));
  }
  override block(key: Key, seconds: number, options?: Extra): Promise<RateLimiterRes> {
    return this.guarded(() => super.block(key, seconds, options));
  }
  override delete(key: Key, options?: Extra): Promise<boolean> {
    return this.guarded(() => super.delete(key, options));
  }

  /** Async: a refusal of assertUsable becomes a rejection, as callers of a limiter expect. */
  private async guarded<T>(call: () => Promise<T>): Promise<T> {
    this.assertUsable();
    return call().catch(rethrow);
  }
}

/** A RateLimiterRes (the limiter saying no) has no SQLite code: it passes unchanged. */
function rethrow(reason: unknown): never {
  throw unavailableIfBusy(reason);
}

export function sqliteLimiter(db: Database.Database, options: LimiterOptions): RateLimiterSQLite {
  const limiter = new SqliteLimiter({
    storeType: 'better-sqlite3',
    storeClient: db,
    tableName: THROTTLE_TABLE,
    tableCreated: true,
    clearExpiredByTimeout: false,
    keyPrefix: options.keyPrefix,
    points: options.points,
    duration: options.durationSeconds,
    blockDuration: options.blockDurationSeconds,
  });
  limiter.assertUsable = () => filesOf(db)?.assertIntact();
  return limiter;
}

/** The limiter's rows expired at or before `beforeMs` (its expire column is in milliseconds; NULL never expires). */
export function throttlePruner(db: Database.Database): (beforeMs: number) => number {
  const expired = db.prepare<[number]>(`DELETE FROM ${THROTTLE_TABLE} WHERE expire <= ?`);
  return (beforeMs) => expired.run(beforeMs).changes;
}
