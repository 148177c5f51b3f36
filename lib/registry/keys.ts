import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type Database from 'better-sqlite3';
import { invalid } from '../errors';
import { jwkThumbprint, publicJwkOf, SIGNING_ALGORITHMS, type PublicJwk, type SigningAlgorithm } from '../tokens';
import type { KeyRecord, KeyStatus } from './types';

/** Margin added to a retired key's last token expiry before it leaves the JWKS (clock skew, coarse recording). */
export const KEY_REMOVAL_MARGIN_SECONDS = 300;
/** recordKeyUse writes only when a token outlives the recorded expiry by more than this. */
export const KEY_USE_GRANULARITY_SECONDS = 60;

interface KeyRow {
  kid: string;
  alg: SigningAlgorithm;
  private_pem: string;
  public_jwk: string;
  created_at: number;
  activates_at: number;
  retires_at: number | null;
  signed_until: number | null;
}

export function assertAlgorithm(alg: string): asserts alg is SigningAlgorithm {
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    throw invalid(`unsupported signing algorithm "${alg}" (supported: ${SIGNING_ALGORITHMS.join(', ')})`);
  }
}

export interface GeneratedKey {
  kid: string;
  privateKeyPem: string;
  publicJwk: PublicJwk;
}

const generateKeyPairAsync = promisify(generateKeyPair);

export function assertLeadSeconds(leadSeconds: number): void {
  if (!Number.isInteger(leadSeconds) || leadSeconds < 0) throw invalid('lead time must be a whole number of seconds >= 0');
}

/** A fresh key pair, made on libuv's thread pool; kid is the RFC 7638 JWK thumbprint of its public key. */
export async function generateKey(alg: SigningAlgorithm): Promise<GeneratedKey> {
  const pair = alg === 'RS256' ? await generateKeyPairAsync('rsa', { modulusLength: 2048 }) : await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const kid = jwkThumbprint(pair.publicKey);
  const privateKeyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { kid, privateKeyPem, publicJwk: publicJwkOf(kid, alg, pair.publicKey) };
}

/**
 * Signing keys and their lifecycle, all derived from times: a key is pending until `activates_at`,
 * active until `retires_at`, then retired; it is removed once every token it signed has expired.
 */
export class Keys {
  private readonly all;
  private readonly insert;
  private readonly retire;
  private readonly recordUse;
  private readonly remove;

  constructor(db: Database.Database) {
    this.all = db.prepare<[], KeyRow>('SELECT * FROM signing_keys ORDER BY activates_at, created_at');
    this.insert = db.prepare(
      `INSERT INTO signing_keys (kid, alg, private_pem, public_jwk, created_at, activates_at, retires_at, signed_until)
       VALUES (@kid, @alg, @privateKeyPem, @publicJwk, @now, @activatesAt, @retiresAt, NULL)`,
    );
    // Also pulls forward a retirement scheduled after the new activation (a rotation during another's
    // lead time): otherwise the older key would stay "active" next to the new one until then.
    this.retire = db.prepare<{ at: number; alg: string }>(
      'UPDATE signing_keys SET retires_at = @at WHERE alg = @alg AND (retires_at IS NULL OR retires_at > @at)',
    );
    this.recordUse = db.prepare<[number, string, number]>('UPDATE signing_keys SET signed_until = ? WHERE kid = ? AND coalesce(signed_until, 0) < ?');
    this.remove = db.prepare<[string]>('DELETE FROM signing_keys WHERE kid = ?');
  }

  list(now: number): KeyRecord[] {
    return this.all.all().map((row) => toRecord(row, now));
  }

  /** The key signing now for alg (latest activated, not retired), or null. */
  current(alg: SigningAlgorithm, now: number): KeyRecord | null {
    const active = this.list(now).filter((k) => k.alg === alg && k.status === 'active');
    return active.length > 0 ? active[active.length - 1] : null;
  }

  /**
   * Adds a key (generated beforehand, outside the write lock) that signs from now + leadSeconds;
   * keys of that alg still signing then retire then.
   */
  add(key: GeneratedKey, leadSeconds: number, now: number): KeyRecord {
    assertLeadSeconds(leadSeconds);
    const alg = key.publicJwk.alg;
    const activatesAt = now + leadSeconds;
    this.retire.run({ at: activatesAt, alg });
    this.insert.run({ ...key, publicJwk: JSON.stringify(key.publicJwk), alg, now, activatesAt, retiresAt: null });
    return this.list(now).find((k) => k.kid === key.kid) as KeyRecord;
  }

  /**
   * First key for an alg with no active one: signs now. A key already scheduled (rotated in with a
   * lead time before any key signed) keeps its schedule: this one retires when that one activates.
   */
  addFirst(key: GeneratedKey, now: number): KeyRecord {
    const alg = key.publicJwk.alg;
    const next = this.list(now).find((k) => k.alg === alg && k.status === 'pending');
    this.insert.run({ ...key, publicJwk: JSON.stringify(key.publicJwk), alg, now, activatesAt: now, retiresAt: next?.activatesAt ?? null });
    return this.list(now).find((k) => k.kid === key.kid) as KeyRecord;
  }

  recordKeyUse(kid: string, exp: number): void {
    this.recordUse.run(exp + KEY_USE_GRANULARITY_SECONDS, kid, exp);
  }

  prune(now: number): number {
    let removed = 0;
    for (const key of this.list(now)) {
      if (key.removeAfter !== null && key.removeAfter <= now) removed += this.remove.run(key.kid).changes;
    }
    return removed;
  }
}

function statusOf(row: KeyRow, now: number): KeyStatus {
  // A pending key superseded before it activated never signs: it is retired.
  if (row.retires_at !== null && (row.retires_at <= now || row.retires_at <= row.activates_at)) return 'retired';
  if (row.activates_at > now) return 'pending';
  return 'active';
}

function toRecord(row: KeyRow, now: number): KeyRecord {
  const removeAfter = row.retires_at === null ? null : Math.max(row.retires_at, row.signed_until ?? 0) + KEY_REMOVAL_MARGIN_SECONDS;
  return {
    kid: row.kid,
    alg: row.alg,
    status: statusOf(row, now),
    privateKeyPem: row.private_pem,
    publicJwk: JSON.parse(row.public_jwk) as PublicJwk,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
    retiresAt: row.retires_at,
    signedUntil: row.signed_until,
    removeAfter,
  };
}
