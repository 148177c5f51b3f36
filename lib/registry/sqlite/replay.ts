import type Database from 'better-sqlite3';
import type { ReplayStorage } from '../storage';
import { inTransaction } from './database';

/** Single-use ids per namespace (client assertion and DPoP proof jti), kept until they expire. */
export class SqliteReplay implements ReplayStorage {
  private readonly record;
  private readonly expired;

  constructor(private readonly db: Database.Database) {
    // One statement: a new id is inserted, an expired one replaced, a live one left alone (no change: a replay).
    this.record = db.prepare<[{ namespace: string; id: string; expiresAt: number; now: number }]>(
      `INSERT INTO replay (namespace, id, expires_at) VALUES (@namespace, @id, @expiresAt)
       ON CONFLICT (namespace, id) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at <= @now`,
    );
    this.expired = db.prepare<[number]>('DELETE FROM replay WHERE expires_at <= ?');
  }

  use(namespace: string, id: string, expiresAt: number, now: number): Promise<boolean> {
    return inTransaction(this.db, () => this.record.run({ namespace, id, expiresAt, now }).changes === 1);
  }

  /** Entries expired at or before `before`; for a transaction of the caller's. */
  deleteExpired(before: number): number {
    return this.expired.run(before).changes;
  }
}
