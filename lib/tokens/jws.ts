import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { readHeader, type JoseHeader } from './jwt';

/**
 * The JWS algorithms ccgate ever verifies: RSASSA-PKCS1-v1_5, ECDSA P-256 and RSASSA-PSS with
 * SHA-256 (RFC 7518 §3.3, §3.4, §3.5). Never `none`, never an HMAC: whatever a caller allows, a
 * header naming another algorithm is refused before any key is looked up.
 */
export type JwsAlgorithm = 'RS256' | 'PS256' | 'ES256';
export const JWS_ALGORITHMS: readonly JwsAlgorithm[] = ['RS256', 'PS256', 'ES256'];

/** A verification key and the one algorithm it is used with here. */
export interface JwsKey {
  kid?: string;
  alg: JwsAlgorithm;
  key: KeyObject;
}

/** Why a compact JWS was not accepted; each caller turns these into its own reasons and messages. */
export type JwsFailure =
  /** Longer than the caller's maximum, refused before any parsing. */
  | 'too_long'
  /** Not three base64url parts, or a header that is not a JSON object. */
  | 'not_jws'
  | 'unsupported_algorithm'
  /** The header's typ does not satisfy the caller's predicate. */
  | 'wrong_type'
  /** RFC 7515 §4.1.11: a `crit` header, and we understand no extension. */
  | 'unsupported_extension'
  /** kid missing where required, or present but not a non-empty string. */
  | 'no_kid'
  /** No key for this kid and algorithm (the key's algorithm must be the header's). */
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  /** `nbf` not reached. */
  | 'not_yet_valid'
  /** Signed, but jsonwebtoken refuses its shape (a non-numeric exp or nbf, a key unfit for the algorithm...). */
  | 'malformed'
  /** The payload is not a JSON object. */
  | 'no_claims';

export interface JwsCheck<K extends JwsKey> {
  /** Algorithms accepted for this kind of JWS; only those of JWS_ALGORITHMS ever are. */
  algorithms: readonly JwsAlgorithm[];
  /** Longest JWS read, in characters. */
  maxLength: number;
  /** The key for the header's kid (undefined when it names none) and algorithm; undefined when there is none. */
  keyFor(kid: string | undefined, alg: JwsAlgorithm, header: JoseHeader): K | undefined | Promise<K | undefined>;
  /** Whether the header's typ is acceptable (RFC 7515 §4.1.9); absent: any typ, or none. */
  typ?: (typ: unknown) => boolean;
  /** Refuse a JWS whose header names no key (default false). */
  requireKid?: boolean;
  /** Seconds of clock skew allowed on exp / nbf. */
  clockToleranceSeconds: number;
  /** Unix seconds to check exp / nbf against (default the clock). */
  now?: number;
}

export type JwsVerification<K extends JwsKey> = { ok: true; header: JoseHeader; payload: Record<string, unknown>; key: K } | { ok: false; failure: JwsFailure };

const fail = (failure: JwsFailure): { ok: false; failure: JwsFailure } => ({ ok: false, failure });

const isAlgorithm = (alg: unknown, allowed: readonly JwsAlgorithm[]): alg is JwsAlgorithm =>
  typeof alg === 'string' && JWS_ALGORITHMS.includes(alg as JwsAlgorithm) && allowed.includes(alg as JwsAlgorithm);

/**
 * Verifies a compact JWS (RFC 7515 §7.1) once: length, header (read once, never trusted for where a
 * key comes from: jku, x5u, jwk are ignored), algorithm, typ, crit, then the key the caller picks,
 * then signature and exp / nbf through jsonwebtoken. Every other claim is the caller's. Refusals are
 * returned as values; only the caller's keyFor may throw (its keys cannot be had), and that passes through.
 */
export async function verifyJws<K extends JwsKey>(token: string, check: JwsCheck<K>): Promise<JwsVerification<K>> {
  if (token.length > check.maxLength) return fail('too_long');
  const header = readHeader(token);
  if (!header) return fail('not_jws');
  const alg = header.alg;
  if (!isAlgorithm(alg, check.algorithms)) return fail('unsupported_algorithm');
  if (check.typ && !check.typ(header.typ)) return fail('wrong_type');
  if (header.crit !== undefined) return fail('unsupported_extension');
  const kid = kidOf(header);
  if (kid === null || (kid === undefined && check.requireKid === true)) return fail('no_kid');
  const key = await check.keyFor(kid, alg, header);
  // The key's own algorithm must be the header's: no algorithm substitution.
  if (!key || key.alg !== alg) return fail('unknown_key');
  let payload: unknown;
  try {
    payload = jwt.verify(token, key.key, { algorithms: [alg], clockTolerance: check.clockToleranceSeconds, clockTimestamp: check.now });
  } catch (err) {
    return fail(failureOf(err));
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return fail('no_claims');
  return { ok: true, header, payload: payload as Record<string, unknown>, key };
}

/** The header's kid (RFC 7515 §4.1.4): a non-empty string, undefined when absent, null when unusable. */
function kidOf(header: JoseHeader): string | undefined | null {
  if (header.kid === undefined) return undefined;
  return typeof header.kid === 'string' && header.kid.length > 0 ? header.kid : null;
}

/** jsonwebtoken's errors by class; its one error without a class of its own is told by its fixed text. */
function failureOf(err: unknown): JwsFailure {
  if (err instanceof jwt.TokenExpiredError) return 'expired';
  if (err instanceof jwt.NotBeforeError) return 'not_yet_valid';
  if (err instanceof jwt.JsonWebTokenError && err.message === 'invalid signature') return 'bad_signature';
  return 'malformed';
}

/**
 * The claims of a compact JWS, read without verifying anything: only to find out whose keys to
 * verify it with. Null when it is not a JWS with a JSON object payload.
 */
export function readUnverifiedClaims(token: string, maxLength: number): Record<string, unknown> | null {
  if (token.length > maxLength || readHeader(token) === null) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
