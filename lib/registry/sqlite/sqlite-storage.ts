import type Database from 'better-sqlite3';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { LimiterOptions, PruneBefore, PruneCounts, RegistryStorage } from '../storage';
import { SqliteChangeFeed } from './change-feed';
import { SqliteClients } from './clients';
import { filesOf, inTransaction, openDatabase, settle, type SqliteOptions } from './database';
import { SqliteGroups } from './groups';
import { SqliteKeys } from './keys';
import { sqliteLimiter, throttlePruner } from './limiter';
import { SqliteReplay } from './replay';
import { SqliteResources } from './resources';
import { SqliteRevocations } from './revocations';

/**
 * The registry in one SQLite file, shared safely by any number of processes on one machine (the
 * servers, the CLI). Opens and migrates in the constructor, synchronously: a file it must refuse (a
 * newer schema) throws there, before anything else runs. better-sqlite3 is synchronous; every method
 * still returns a Promise, as the interface wants, and a lock held past the busy timeout rejects
 * with RegistryUnavailableError.
 */
export class SqliteStorage implements RegistryStorage {
  readonly groups: SqliteGroups;
  readonly clients: SqliteClients;
  readonly resources: SqliteResources;
  readonly keys: SqliteKeys;
  readonly revocations: SqliteRevocations;
  readonly replay: SqliteReplay;
  readonly changes: SqliteChangeFeed;
  private readonly db: Database.Database;
  private readonly pruneThrottle: (beforeMs: number) => number;
  private readonly select1;

  constructor(path: string, options: SqliteOptions = {}) {
    const db = openDatabase(path, options);
    try {
      this.groups = new SqliteGroups(db);
      this.clients = new SqliteClients(db, this.groups);
      this.resources = new SqliteResources(db);
      this.keys = new SqliteKeys(db);
      this.revocations = new SqliteRevocations(db);
      this.replay = new SqliteReplay(db);
      this.pruneThrottle = throttlePruner(db);
      this.select1 = db.prepare('SELECT 1');
      this.changes = SqliteChangeFeed.open(db, path);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
  }

  limiter(options: LimiterOptions): RateLimiterAbstract {
    return sqliteLimiter(this.db, options);
  }

  /** Opened in the constructor already. */
  open(): Promise<void> {
    return Promise.resolve();
  }

  /** Also fails once the files were replaced under this process: a readiness check must see that. */
  ping(): Promise<void> {
    return settle(() => {
      filesOf(this.db)?.assertIntact();
      this.select1.get();
    });
  }

  /** Never null: the write lock serializes pruning processes, so there is no "someone else is pruning". */
  prune(before: PruneBefore): Promise<PruneCounts> {
    return inTransaction(this.db, () => ({
      revocations: this.revocations.deleteExpired(before.revocations),
      replay: this.replay.deleteExpired(before.replay),
      // The throttle has no time of its own in PruneBefore: its windows end on the same clock as replay entries.
      throttle: this.pruneThrottle(before.replay * 1000),
    }));
  }

  /**
   * Idempotent. The change feed closes first, so it never reads a descriptor whose number was handed
   * on. A connection whose files were replaced is left open (until the process ends): SQLite's close
   * would checkpoint and delete, by name, a -wal and -shm that now belong to another database.
   */
  close(): Promise<void> {
    this.changes.close();
    if (this.db.open && filesOf(this.db)?.intact !== false) this.db.close();
    return Promise.resolve();
  }
}
