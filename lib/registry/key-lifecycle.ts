import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { jwkThumbprint, publicJwkOf, type SigningAlgorithm } from '../tokens/jwk';
import { keySecretIdOf } from './key-protection';
import type { KeyChange, KeyRow } from './storage';
import type { KeyRecord, KeyStatus } from './types';

/**
 * Signing keys go pending → active → retired → removed, every step derived from times: a key is
 * pending until `activatesAt`, active until `retiresAt`, then retired; it may leave the JWKS (and be
 * deleted) once every token it signed has expired.
 */

/** Margin added to a retired key's last token expiry before it leaves the JWKS (clock skew, coarse recording). */
export const KEY_REMOVAL_MARGIN_SECONDS = 300;
/** recordKeyUse writes only when a token outlives the recorded expiry by more than this. */
export const KEY_USE_GRANULARITY_SECONDS = 60;

const generateKeyPairAsync = promisify(generateKeyPair);

/** A fresh key pair, made on libuv's thread pool; kid is the RFC 7638 JWK thumbprint of its public key. */
export async function generateKey(alg: SigningAlgorithm, now: number): Promise<KeyRow> {
  const pair = alg === 'RS256' ? await generateKeyPairAsync('rsa', { modulusLength: 2048 }) : await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const kid = jwkThumbprint(pair.publicKey);
  const privateKeyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { kid, alg, privateKeyPem, publicJwk: publicJwkOf(kid, alg, pair.publicKey), createdAt: now, activatesAt: now, retiresAt: null, signedUntil: null };
}

export function statusOf(row: KeyRow, now: number): KeyStatus {
  // A pending key superseded before it activated never signs: it is retired.
  if (row.retiresAt !== null && (row.retiresAt <= now || row.retiresAt <= row.activatesAt)) return 'retired';
  if (row.activatesAt > now) return 'pending';
  return 'active';
}

export function toKeyRecord(row: KeyRow, now: number): KeyRecord {
  const removeAfter = row.retiresAt === null ? null : Math.max(row.retiresAt, row.signedUntil ?? 0) + KEY_REMOVAL_MARGIN_SECONDS;
  return { ...row, status: statusOf(row, now), removeAfter, keySecretId: keySecretIdOf(row.privateKeyPem) };
}

const kidsOf = (rows: KeyRow[], alg: SigningAlgorithm): string[] =>
  rows
    .filter((k) => k.alg === alg)
    .map((k) => k.kid)
    .sort();

/** The key signing now for alg (the latest activated one), or undefined. Rows come ordered by activation. */
export function currentKey(rows: KeyRow[], alg: SigningAlgorithm, now: number): KeyRow | undefined {
  return rows.filter((k) => k.alg === alg && statusOf(k, now) === 'active').at(-1);
}

/**
 * The first key for an alg with none active: it signs now. A key already scheduled (rotated in with
 * a lead time before any key signed) keeps its schedule: this one retires when that one activates.
 */
export function firstKeyChange(rows: KeyRow[], key: KeyRow, now: number): KeyChange {
  const next = rows.find((k) => k.alg === key.alg && statusOf(k, now) === 'pending');
  const insert: KeyRow = { ...key, createdAt: now, activatesAt: now, retiresAt: next?.activatesAt ?? null };
  return { alg: key.alg, expectedKids: kidsOf(rows, key.alg), retire: [], insert };
}

/**
 * A rotation: the new key signs from now + lead; every key of that alg still signing then retires
 * then. That pulls forward a retirement scheduled later (a rotation during another's lead time),
 * so two keys are never active at once.
 */
export function rotationChange(rows: KeyRow[], key: KeyRow, leadSeconds: number, now: number): KeyChange {
  const activatesAt = now + leadSeconds;
  const retire = rows
    .filter((k) => k.alg === key.alg && (k.retiresAt === null || k.retiresAt > activatesAt))
    .map((k) => ({ kid: k.kid, retiresAt: activatesAt }));
  const insert: KeyRow = { ...key, createdAt: now, activatesAt, retiresAt: null };
  return { alg: key.alg, expectedKids: kidsOf(rows, key.alg), retire, insert };
}

/** Retired keys whose last token has expired, with the margin: nobody can need them. */
export function removableKids(rows: KeyRow[], now: number): string[] {
  return rows
    .filter((row) => {
      const removeAfter = toKeyRecord(row, now).removeAfter;
      return removeAfter !== null && removeAfter <= now;
    })
    .map((k) => k.kid);
}
