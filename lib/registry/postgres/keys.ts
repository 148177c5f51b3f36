import type { PublicJwk, SigningAlgorithm } from '../../tokens';
import type { KeyChange, KeyRow, KeyStorage } from '../storage';
import { lockKey, type Tables } from './names';
import type { Database, Executor } from './pool';

interface KeyDbRow {
  kid: string;
  alg: SigningAlgorithm;
  private_pem: string;
  public_jwk: PublicJwk;
  created_at: number;
  activates_at: number;
  retires_at: number | null;
  signed_until: number | null;
}

/** Signing keys. Every change is a compare-and-set on one algorithm's set of kids. */
export class PostgresKeys implements KeyStorage {
  private readonly lock: string;

  constructor(
    private readonly db: Database,
    private readonly t: Tables,
    schema: string,
  ) {
    this.lock = lockKey(schema, 'keys');
  }

  async list(): Promise<KeyRow[]> {
    const rows = await this.db.rows<KeyDbRow>(`SELECT * FROM ${this.t.signing_keys} ORDER BY activates_at, created_at, kid`);
    return rows.map(toKeyRow);
  }

  /**
   * Under a transaction-level advisory lock, so concurrent changes (rotations, first starts on
   * several instances) run one after the other: each compares the kids it read with what is there
   * now, and only one of several that read the same set applies.
   */
  apply(change: KeyChange): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.rows('SELECT pg_advisory_xact_lock($1::bigint)', [this.lock]);
      const rows = await tx.rows<{ kid: string }>(`SELECT kid FROM ${this.t.signing_keys} WHERE alg = $1`, [change.alg]);
      if (
        !sameKids(
          rows.map((row) => row.kid),
          change.expectedKids,
        )
      )
        return false;
      await this.retire(tx, change.retire);
      if (change.insert) await this.insert(tx, change.insert);
      return true;
    });
  }

  async recordUse(kid: string, signedUntil: number): Promise<void> {
    await this.db.run(`UPDATE ${this.t.signing_keys} SET signed_until = $2 WHERE kid = $1 AND coalesce(signed_until, 0) < $2`, [kid, signedUntil]);
  }

  async delete(kids: string[]): Promise<number> {
    if (kids.length === 0) return 0;
    return this.db.run(`DELETE FROM ${this.t.signing_keys} WHERE kid = ANY($1::text[])`, [kids]);
  }

  async replacePrivateKey(kid: string, expected: string, replacement: string): Promise<boolean> {
    const changed = await this.db.run(`UPDATE ${this.t.signing_keys} SET private_pem = $3 WHERE kid = $1 AND private_pem = $2`, [kid, expected, replacement]);
    return changed === 1;
  }

  private async retire(tx: Executor, retire: KeyChange['retire']): Promise<void> {
    if (retire.length === 0) return;
    await tx.run(
      `UPDATE ${this.t.signing_keys} k SET retires_at = r.retires_at
       FROM unnest($1::text[], $2::bigint[]) AS r (kid, retires_at) WHERE k.kid = r.kid`,
      [retire.map((r) => r.kid), retire.map((r) => r.retiresAt)],
    );
  }

  private async insert(tx: Executor, key: KeyRow): Promise<void> {
    await tx.run(
      `INSERT INTO ${this.t.signing_keys} (kid, alg, private_pem, public_jwk, created_at, activates_at, retires_at, signed_until)
       VALUES ($1, $2, $3, $4::json, $5, $6, $7, $8)`,
      [key.kid, key.alg, key.privateKeyPem, JSON.stringify(key.publicJwk), key.createdAt, key.activatesAt, key.retiresAt, key.signedUntil],
    );
  }
}

function sameKids(stored: string[], expected: string[]): boolean {
  if (stored.length !== expected.length) return false;
  const wanted = new Set(expected);
  return stored.every((kid) => wanted.has(kid));
}

function toKeyRow(row: KeyDbRow): KeyRow {
  return {
    kid: row.kid,
    alg: row.alg,
    privateKeyPem: row.private_pem,
    publicJwk: row.public_jwk,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
    retiresAt: row.retires_at,
    signedUntil: row.signed_until,
  };
}
