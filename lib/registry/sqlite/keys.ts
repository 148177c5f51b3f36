import type Database from 'better-sqlite3';
import type { PublicJwk, SigningAlgorithm } from '../../tokens';
import type { KeyChange, KeyRow, KeyStorage } from '../storage';
import { inTransaction, read } from './database';

interface KeyColumns {
  kid: string;
  alg: SigningAlgorithm;
  private_pem: string;
  /** JSON. */
  public_jwk: string;
  created_at: number;
  activates_at: number;
  retires_at: number | null;
  signed_until: number | null;
}

/** Signing keys as stored; their lifecycle is the service's (key-lifecycle.ts). */
export class SqliteKeys implements KeyStorage {
  private readonly all;
  private readonly kidsOf;
  private readonly insert;
  private readonly retire;
  private readonly raiseSignedUntil;
  private readonly remove;
  private readonly replacePem;

  constructor(private readonly db: Database.Database) {
    this.all = db.prepare<[], KeyColumns>('SELECT * FROM signing_keys ORDER BY activates_at, created_at, kid');
    this.kidsOf = db.prepare<[string], string>('SELECT kid FROM signing_keys WHERE alg = ?').pluck();
    this.insert = db.prepare<[KeyColumns]>(
      `INSERT INTO signing_keys (kid, alg, private_pem, public_jwk, created_at, activates_at, retires_at, signed_until)
       VALUES (@kid, @alg, @private_pem, @public_jwk, @created_at, @activates_at, @retires_at, @signed_until)`,
    );
    this.retire = db.prepare<[number, string, string]>('UPDATE signing_keys SET retires_at = ? WHERE kid = ? AND alg = ?');
    this.raiseSignedUntil = db.prepare<[number, string, number]>('UPDATE signing_keys SET signed_until = ? WHERE kid = ? AND coalesce(signed_until, 0) < ?');
    this.remove = db.prepare<[string]>('DELETE FROM signing_keys WHERE kid = ?');
    this.replacePem = db.prepare<[string, string, string]>('UPDATE signing_keys SET private_pem = ? WHERE kid = ? AND private_pem = ?');
  }

  list(): Promise<KeyRow[]> {
    return read(this.db, () => this.all.all().map(toRow));
  }

  /** Compare-and-set under the write lock: applied only if alg's kids are still the expected ones. */
  apply(change: KeyChange): Promise<boolean> {
    return inTransaction(this.db, () => {
      if (!sameSet(this.kidsOf.all(change.alg), change.expectedKids)) return false;
      for (const { kid, retiresAt } of change.retire) this.retire.run(retiresAt, kid, change.alg);
      if (change.insert) this.insert.run(toColumns(change.insert));
      return true;
    });
  }

  recordUse(kid: string, signedUntil: number): Promise<void> {
    return inTransaction(this.db, () => {
      this.raiseSignedUntil.run(signedUntil, kid, signedUntil);
    });
  }

  delete(kids: string[]): Promise<number> {
    return inTransaction(this.db, () => kids.reduce((removed, kid) => removed + this.remove.run(kid).changes, 0));
  }

  replacePrivateKey(kid: string, expected: string, replacement: string): Promise<boolean> {
    return inTransaction(this.db, () => this.replacePem.run(replacement, kid, expected).changes === 1);
  }
}

function sameSet(a: string[], b: string[]): boolean {
  const left = [...new Set(a)].sort();
  const right = [...new Set(b)].sort();
  return left.length === right.length && left.every((kid, i) => kid === right[i]);
}

function toRow(row: KeyColumns): KeyRow {
  return {
    kid: row.kid,
    alg: row.alg,
    privateKeyPem: row.private_pem,
    publicJwk: JSON.parse(row.public_jwk) as PublicJwk,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
    retiresAt: row.retires_at,
    signedUntil: row.signed_until,
  };
}

function toColumns(row: KeyRow): KeyColumns {
  return {
    kid: row.kid,
    alg: row.alg,
    private_pem: row.privateKeyPem,
    public_jwk: JSON.stringify(row.publicJwk),
    created_at: row.createdAt,
    activates_at: row.activatesAt,
    retires_at: row.retiresAt,
    signed_until: row.signedUntil,
  };
}
