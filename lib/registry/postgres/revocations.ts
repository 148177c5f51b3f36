import type { RevocationRow, RevocationStorage } from '../storage';
import type { Tables } from './names';
import type { Database, Executor } from './pool';

/** Named: the guard asks it on every uncached request. */
const STATUS_STATEMENT = 'ccgate-token-status';
const REVOKED_STATEMENT = 'ccgate-token-revoked';

/** Revoked token ids and the guard's status read. */
export class PostgresRevocations implements RevocationStorage {
  private readonly insertSql: string;
  private readonly statusSql: string;
  private readonly revokedSql: string;

  constructor(
    private readonly db: Database,
    private readonly t: Tables,
  ) {
    // A second revocation only ever raises the expiry (and leaves the row alone otherwise: no change, no announcement).
    this.insertSql = `
      INSERT INTO ${t.revoked_tokens} AS r (jti, client_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4)
      ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE r.expires_at < excluded.expires_at`;
    // Two primary-key reads in one statement: one round trip, whatever the registry's size.
    this.statusSql = `
      SELECT (SELECT enabled FROM ${t.clients} WHERE client_id = $1) AS enabled,
             EXISTS (SELECT 1 FROM ${t.revoked_tokens} WHERE jti = $2) AS revoked`;
    this.revokedSql = `SELECT EXISTS (SELECT 1 FROM ${t.revoked_tokens} WHERE jti = $1) AS revoked`;
  }

  async revoked(jti: string): Promise<boolean> {
    const [row] = await this.db.rows<{ revoked: boolean }>(this.revokedSql, [jti], REVOKED_STATEMENT);
    return row.revoked;
  }

  async insert(row: RevocationRow, revokedAt: number): Promise<void> {
    await this.db.run(this.insertSql, [row.jti, row.clientId, row.expiresAt, revokedAt]);
  }

  async status(jti: string, clientId: string): Promise<{ revoked: boolean; clientEnabled: boolean | null }> {
    const [row] = await this.db.rows<{ enabled: boolean | null; revoked: boolean }>(this.statusSql, [clientId, jti], STATUS_STATEMENT);
    return { revoked: row.revoked, clientEnabled: row.enabled };
  }

  prune(before: number): Promise<number> {
    return this.deleteExpired(this.db, before);
  }

  /** Revocations whose token expired at or before `before`; also inside the storage's prune transaction. */
  deleteExpired(ex: Executor, before: number): Promise<number> {
    return ex.run(`DELETE FROM ${this.t.revoked_tokens} WHERE expires_at <= $1`, [before]);
  }
}
