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
 * Verifies a compact JWS (RFC 7515 §7.1) once: length, header (never trusted for where a key comes
 * from: jku, x5u, jwk are ignored), algorithm, typ, crit, then the key the caller picks, then
 * signature and exp / nbf through jsonwebtoken. The header is decoded once, by jsonwebtoken, and
 * handed to our key step (its key callback), which refuses it before any key is looked up. Every
 * other claim is the caller's. Refusals are returned as values; only the caller's keyFor may throw
 * (its keys cannot be had), and that passes through as the rejection.
 */
export function verifyJws<K extends JwsKey>(token: string, check: JwsCheck<K>): Promise<JwsVerification<K>> {
  if (token.length > check.maxLength) return Promise.resolve(fail('too_long'));
  return new Promise((resolve, reject) => {
    /** Set once the key step ran: what it refused, the key it chose, or the fault keyFor threw. */
    let reached = false;
    let refusal: JwsFailure | null = null;
    let chosen: { header: JoseHeader; key: K } | null = null;
    let fault: { error: unknown } | null = null;
    const keyStep = (decoded: unknown, deliver: (err: Error | null, key?: KeyObject) => void): void => {
      reached = true;
      const header = headerOf(decoded, token);
      const refuse = (failure: JwsFailure): void => {
        refusal = failure;
        deliver(REFUSED);
      };
      const settle = (key: K | undefined, alg: JwsAlgorithm): void => {
        // The key's own algorithm must be the header's: no algorithm substitution.
        if (!key || key.alg !== alg) return refuse('unknown_key');
        chosen = { header: header as JoseHeader, key };
        deliver(null, key.key);
      };
      // An empty signature part (an unsecured JWS) is not a compact JWS to us, whatever its header says.
      if (header === null || token.endsWith('.')) return refuse('not_jws');
      const alg = header.alg;
      if (!isAlgorithm(alg, check.algorithms)) return refuse('unsupported_algorithm');
      if (check.typ && !check.typ(header.typ)) return refuse('wrong_type');
      if (header.crit !== undefined) return refuse('unsupported_extension');
      const kid = kidOf(header);
      if (kid === null || (kid === undefined && check.requireKid === true)) return refuse('no_kid');
      let key: K | undefined | Promise<K | undefined>;
      try {
        key = check.keyFor(kid, alg, header);
      } catch (error) {
        fault = { error };
        return deliver(REFUSED);
      }
      // A key held is handed over at once: the whole verification then runs without a Promise hop.
      if (!(key instanceof Promise)) return settle(key, alg);
      key.then(
        (k) => settle(k, alg),
        (error: unknown) => {
          fault = { error };
          deliver(REFUSED);
        },
      );
    };
    const done = (err: Error | null, payload: unknown): void => {
      // keyFor's own fault, unchanged: the caller tells an unreachable key source by its class.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      if (fault) return reject(fault.error);
      if (refusal) return resolve(fail(refusal));
      // jsonwebtoken refused it before our key step saw a header: not a compact JWS at all.
      if (!reached) return resolve(fail('not_jws'));
      if (err) return resolve(fail(failureOf(err)));
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || chosen === null) return resolve(fail('no_claims'));
      resolve({ ok: true, header: chosen.header, payload: payload as Record<string, unknown>, key: chosen.key });
    };
    jwt.verify(token, keyStep, { algorithms: [...check.algorithms], clockTolerance: check.clockToleranceSeconds, clockTimestamp: check.now }, done);
  });
}

/** What the key step hands jsonwebtoken when it refuses (the reason is kept aside): never shown to anyone. */
const REFUSED = new Error('refused by the key step');

/** Any character jsonwebtoken's Latin-1 reading of the header makes of a UTF-8 byte sequence. */
const LATIN1_HIGH = /[\u0080-\u00ff]/;

/**
 * The header jsonwebtoken decoded, as a JSON object; null when it is not one. jws reads the header
 * as Latin-1: a kid with non-ASCII characters is read again as UTF-8 (RFC 7515 §4: UTF-8 JSON), so
 * it compares with the key set's own kids.
 */
function headerOf(decoded: unknown, token: string): JoseHeader | null {
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) return null;
  const header = decoded as JoseHeader;
  if (typeof header.kid === 'string' && LATIN1_HIGH.test(header.kid)) return readHeader(token);
  return header;
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
