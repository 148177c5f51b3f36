import type Database from 'better-sqlite3';
import { invalid } from '../errors';
import type { TokenStatus } from '../tokens';
import type { RevocationInput } from './types';

/** Revoked token ids, and the guard's one-query status check. */
export class Revocations {
  private readonly insert;
  private readonly status;
  private readonly prune;

  constructor(db: Database.Database) {
    // Keeps the later expiry if a jti is revoked twice.
    this.insert = db.prepare(
      `INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES (@jti, @clientId, @expiresAt, @now)
       ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
    );
    // Both lookups are primary-key reads: the cost does not grow with the registry.
    this.status = db.prepare<[string, string], { enabled: number | null; revoked: number | null }>(
      `SELECT (SELECT enabled FROM clients WHERE client_id = ?) AS enabled,
              (SELECT 1 FROM revoked_tokens WHERE jti = ?) AS revoked`,
    );
    this.prune = db.prepare<[number]>('DELETE FROM revoked_tokens WHERE expires_at <= ?');
  }

  revoke(input: RevocationInput, now: number): void {
    if (typeof input.jti !== 'string' || input.jti.length === 0 || input.jti.length > 256) {
      throw invalid('a token id (jti) must be 1 to 256 characters');
    }
    if (!Number.isInteger(input.expiresAt)) throw invalid('expiresAt must be a Unix time in seconds');
    this.insert.run({ jti: input.jti, clientId: input.clientId ?? null, expiresAt: input.expiresAt, now });
  }

  tokenStatus(jti: string, clientId: string): TokenStatus {
    const row = this.status.get(clientId, jti);
    if (!row || row.revoked === 1) return 'revoked';
    if (row.enabled === null) return 'client_unknown';
    return row.enabled === 1 ? 'active' : 'client_disabled';
  }

  pruneExpired(now: number): number {
    return this.prune.run(now).changes;
  }
}
