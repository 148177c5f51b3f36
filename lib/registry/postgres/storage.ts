import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LimiterOptions, PruneBefore, PruneCounts, RegistryStorage } from '../storage';
import { PostgresChangeFeed } from './changes';
import { PostgresClients } from './clients';
import { storageError } from './errors';
import { PostgresGroups } from './groups';
import { PostgresResources } from './resources';
import { PostgresKeys } from './keys';
import { deleteExpiredThrottle, postgresLimiter } from './limiter';
import { migrate } from './migrations';
import { lockKey, tablesIn, type Tables } from './names';
import { resolvePostgresOptions, type PostgresOptions, type ResolvedPostgresOptions } from './options';
import { connectionConfig, createPool, Database, LISTEN_APPLICATION_NAME } from './pool';
import { PostgresReplay } from './replay';
import { PostgresRevocations } from './revocations';

/**
 * The registry in PostgreSQL, shared by any number of instances (and the CLI): rows in one schema,
 * a pool per instance, changes announced to every instance through NOTIFY with a polled counter as
 * the guarantee. Construction only checks options; open() (or the first call) connects and migrates.
 * A database out of reach fails calls fast with RegistryUnavailableError, and service resumes by
 * itself when it is back.
 */
export class PostgresStorage implements RegistryStorage {
  readonly groups: PostgresGroups;
  readonly clients: PostgresClients;
  readonly resources: PostgresResources;
  readonly keys: PostgresKeys;
  readonly revocations: PostgresRevocations;
  readonly replay: PostgresReplay;
  readonly changes: PostgresChangeFeed;
  /** The schema holding the tables (the option, else the URL's ?schema=, else public). */
  readonly schema: string;
  private readonly options: ResolvedPostgresOptions;
  private readonly pool: pg.Pool;
  private readonly db: Database;
  /** The same pool without waiting for open: what open itself uses. */
  private readonly setup: Database;
  private readonly t: Tables;
  private readonly pruneLock: string;
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(url: string, options: PostgresOptions = {}) {
    this.options = resolvePostgresOptions(url, options);
    this.schema = this.options.schema;
    this.t = tablesIn(this.schema);
    this.pruneLock = lockKey(this.schema, 'prune');
    this.pool = createPool(this.options);
    this.db = new Database(this.pool, () => this.open());
    this.setup = new Database(this.pool, () => Promise.resolve());
    this.groups = new PostgresGroups(this.db, this.t);
    this.clients = new PostgresClients(this.db, this.t);
    this.resources = new PostgresResources(this.db, this.t);
    this.keys = new PostgresKeys(this.db, this.t, this.schema);
    this.revocations = new PostgresRevocations(this.db, this.t);
    this.replay = new PostgresReplay(this.db, this.t);
    this.changes = new PostgresChangeFeed({
      listen: connectionConfig(this.options, LISTEN_APPLICATION_NAME),
      readCounter: () => this.readCounter(),
      maxStalenessMs: this.options.maxStalenessMs,
      checkTimeoutMs: this.options.connectTimeoutMs,
    });
  }

  limiter(options: LimiterOptions): RateLimiterAbstract {
    return postgresLimiter(this.db, this.schema, options);
  }

  open(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('The PostgreSQL registry storage is closed.'));
    this.opening ??= this.connect().catch((err: unknown) => {
      // Not sticky: the next call tries again.
      this.opening = undefined;
      throw storageError(err);
    });
    return this.opening;
  }

  async ping(): Promise<void> {
    await this.db.rows('SELECT 1');
  }

  /** One transaction; null when another instance holds the prune lock (it is pruning right now). */
  prune(before: PruneBefore): Promise<PruneCounts | null> {
    return this.db.transaction(async (tx) => {
      const [{ locked }] = await tx.rows<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS locked', [this.pruneLock]);
      if (!locked) return null;
      return {
        revocations: await this.revocations.deleteExpired(tx, before.revocations),
        replay: await this.replay.deleteExpired(tx, before.replay),
        // The throttle has no time of its own in PruneBefore: its windows end on the same clock as replay entries.
        throttle: await deleteExpiredThrottle(tx, this.t, before.replay * 1000),
      };
    });
  }

  /** Idempotent. Waits for an open in progress, then stops the change feed and ends every connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Idle connections and the listener are unref'd so they never keep a process alive; a close under
      // way must, or the process exits halfway through it and skips whatever its caller does next.
      const keepAlive = setInterval(() => undefined, 1000);
      try {
        await this.opening?.catch(() => undefined);
        await this.changes.stop();
        await this.pool.end();
      } finally {
        clearInterval(keepAlive);
      }
    })();
    return this.closing;
  }

  private async connect(): Promise<void> {
    await migrate(this.pool, this.schema);
    const readAt = performance.now();
    const [state] = await this.setup.rows<{ channel: string; counter: number }>(`SELECT channel, counter FROM ${this.t.ccgate_changes}`);
    await this.changes.start(state.channel, state.counter, readAt);
  }

  private async readCounter(): Promise<number> {
    const [row] = await this.setup.rows<{ counter: number }>(`SELECT counter FROM ${this.t.ccgate_changes}`, [], 'ccgate-change-counter');
    return row.counter;
  }
}
