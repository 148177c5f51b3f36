import type { ReplayStorage } from '../storage';
import type { Tables } from './names';
import type { Database, Executor } from './pool';

/** Single-use ids per namespace (client assertion and DPoP proof jti), kept until they expire. */
export class PostgresReplay implements ReplayStorage {
  private readonly useSql: string;

  constructor(
    private readonly db: Database,
    private readonly t: Tables,
  ) {
    // One atomic statement: a new id is inserted, an expired one replaced, a live one left alone (no
    // row written: a replay). Concurrent first uses queue on the key; exactly one gets the row.
    this.useSql = `
      INSERT INTO ${t.replay} AS r (namespace, id, expires_at) VALUES ($1, $2, $3)
      ON CONFLICT (namespace, id) DO UPDATE SET expires_at = excluded.expires_at WHERE r.expires_at <= $4`;
  }

  async use(namespace: string, id: string, expiresAt: number, now: number): Promise<boolean> {
    return (await this.db.run(this.useSql, [namespace, id, expiresAt, now])) === 1;
  }

  /** Entries expired at or before `before`; inside the storage's prune transaction. */
  deleteExpired(ex: Executor, before: number): Promise<number> {
    return ex.run(`DELETE FROM ${this.t.replay} WHERE expires_at <= $1`, [before]);
  }
}
