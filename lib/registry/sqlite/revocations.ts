import type Database from 'better-sqlite3';
import type { RevocationRow, RevocationStorage } from '../storage';
import { inTransaction, read } from './database';

/** Revoked token ids (RFC 7009), and the guard's one-read status check. */
export class SqliteRevocations implements RevocationStorage {
  private readonly upsert;
  private readonly statusOf;
  private readonly revokedOf;
  private readonly expired;

  constructor(private readonly db: Database.Database) {
    this.upsert = db.prepare<[RevocationRow & { revokedAt: number }]>(
      `INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES (@jti, @clientId, @expiresAt, @revokedAt)
       ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
    );
    // Both lookups are primary-key reads: the cost does not grow with the registry.
    this.statusOf = db.prepare<[string, string], { enabled: number | null; revoked: number | null }>(
      `SELECT (SELECT enabled FROM clients WHERE client_id = ?) AS enabled,
              (SELECT 1 FROM revoked_tokens WHERE jti = ?) AS revoked`,
    );
    this.revokedOf = db.prepare<[string], number>('SELECT 1 FROM revoked_tokens WHERE jti = ?').pluck();
    this.expired = db.prepare<[number]>('DELETE FROM revoked_tokens WHERE expires_at <= ?');
  }

  insert(row: RevocationRow, revokedAt: number): Promise<void> {
    return inTransaction(this.db, () => {
      this.upsert.run({ ...row, revokedAt });
    });
  }

  status(jti: string, clientId: string): Promise<{ revoked: boolean; clientEnabled: boolean | null }> {
    return read(this.db, () => {
      const row = this.statusOf.get(clientId, jti);
      return { revoked: row?.revoked === 1, clientEnabled: row?.enabled == null ? null : row.enabled === 1 };
    });
  }

  revoked(jti: string): Promise<boolean> {
    return read(this.db, () => this.revokedOf.get(jti) === 1);
  }

  prune(before: number): Promise<number> {
    return inTransaction(this.db, () => this.deleteExpired(before));
  }

  /** Revocations of tokens expired at or before `before`; for a transaction of the caller's. */
  deleteExpired(before: number): number {
    return this.expired.run(before).changes;
  }
}
