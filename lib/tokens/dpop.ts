import { createHash, type KeyObject } from 'node:crypto';
import { setBounded } from '../bounded-map';
import { DpopProofRejected, type DpopRejectionReason } from '../errors';
import { jwkThumbprint } from './jwk';
import { readPublicJwk } from './jwk-set';
import { verifyJws, type JwsAlgorithm, type JwsFailure, type JwsKey } from './jws';

/** RFC 9449 §4.2: the typ of a DPoP proof. */
const DPOP_TYP = 'dpop+jwt';

/** Algorithms a client may sign its DPoP proofs with (advertised as dpop_signing_alg_values_supported, RFC 9449 §5.1). */
export const DPOP_ALGORITHMS: readonly JwsAlgorithm[] = ['ES256', 'RS256', 'PS256'];

const MAX_JTI_LENGTH = 256;

export interface DpopProofCheck {
  /** The request's method, e.g. 'POST' (compared exactly, RFC 9449 §4.3 item 8). */
  htm: string;
  /**
   * The URL the request was made to; compared with the proof's htu without query and fragment (§4.3
   * item 9, RFC 3986 §6.2.2/§6.2.3 syntax- and scheme-based normalization: case of scheme and host,
   * default port, percent-encoding case).
   */
  htu: string;
  /**
   * At the resource server: the access token presented; the proof's `ath` must be
   * base64url(SHA-256(token)) (§4.3 item 11). Absent at the token endpoint (an `ath` there is ignored).
   */
  accessToken?: string;
  /** Server nonces (§8, §9): when given, the proof's `nonce` must satisfy it; a proof without nonce, or with a stale one, is 'use_nonce'. */
  nonce?: (nonce: string) => boolean;
  /**
   * How far `iat` may lie from now, in seconds, either way (plus the clock tolerance) (§4.3 item 10,
   * §11.1). Default in DEFAULTS.dpop.proofWindowSeconds.
   */
  windowSeconds: number;
  clockToleranceSeconds: number;
  /** Longest proof read, in characters (DEFAULTS.dpop.maxProofLength). */
  maxLength: number;
  /** Algorithms accepted (default DPOP_ALGORITHMS); only those of JWS_ALGORITHMS ever are. */
  algorithms?: readonly JwsAlgorithm[];
  /** Unix seconds (default the clock). */
  now?: number;
}

export interface VerifiedDpopProof {
  /** RFC 7638 JWK SHA-256 thumbprint of the proof's key, base64url: what cnf.jkt carries (RFC 9449 §6.1). */
  jkt: string;
  jti: string;
  iat: number;
  /** Until when the jti must be remembered for the replay check: iat + window + tolerance. */
  replayUntil: number;
}

/** What the JWS core's refusals mean for a DPoP proof, and what is said of each. */
const REFUSALS: Record<JwsFailure, [DpopRejectionReason, string]> = {
  too_long: ['too_long', 'The DPoP proof is too long.'],
  not_jws: ['malformed', 'The DPoP proof is not a JWT.'],
  // verifyDpopProof names the algorithms accepted.
  unsupported_algorithm: ['unsupported_algorithm', 'The DPoP proof is not signed with an accepted algorithm.'],
  wrong_type: ['wrong_type', `The DPoP proof's typ must be ${DPOP_TYP}.`],
  // RFC 7515 §4.1.11: extensions listed in crit must be understood, and we understand none.
  unsupported_extension: ['malformed', 'The DPoP proof requires a header extension that is not supported.'],
  no_kid: ['malformed', 'The DPoP proof has a kid that is not a string.'],
  unknown_key: ['bad_key', "The DPoP proof's jwk is not an accepted public key for its algorithm."],
  bad_signature: ['bad_signature', 'The DPoP proof signature is invalid.'],
  expired: ['stale', 'The DPoP proof expired.'],
  not_yet_valid: ['stale', 'The DPoP proof is not valid yet.'],
  malformed: ['malformed', 'The DPoP proof is invalid.'],
  no_claims: ['malformed', 'The DPoP proof has no claims.'],
};

const reject = (reason: DpopRejectionReason, message: string): DpopProofRejected => new DpopProofRejected(reason, message);

/** RFC 9449 §4.2 names `dpop+jwt`; header types compare case-insensitively, with or without "application/" (RFC 7515 §4.1.9). */
function isDpopType(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === DPOP_TYP || t === `application/${DPOP_TYP}`;
}

/**
 * RFC 9449 §4.2: `ath`, the base64url SHA-256 hash of the access token's ASCII octets. Hashed as
 * UTF-8, which is the same for every valid token (RFC 6750 §2.1 b64token is ASCII) and does not let
 * two different non-ASCII strings hash alike.
 */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'utf8').digest('base64url');
}

/** An absolute http(s) URL: the scheme and "//" spelled out; and no whitespace or control characters anywhere (URL parsing would drop some). */
const ABSOLUTE_HTTP_URL = /^https?:\/\//i;
const SPACE_OR_CONTROL = /[\s\p{Cc}]/u;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * The URL as a DPoP proof's htu is compared (RFC 9449 §4.3 item 9): without query and fragment,
 * normalized as RFC 3986 §6.2.2 and §6.2.3 say: scheme and host lowercased, the default port dropped,
 * an empty path made "/", dot segments removed, percent-encodings of unreserved characters decoded and
 * the others' hex digits uppercased. Null when it is not an absolute http(s) URL, or carries userinfo
 * (RFC 9110 §4.2.4: an error in an http(s) URI).
 */
export function htuOf(url: string): string | null {
  // The same few URLs come back on every request (a route, the token endpoint): parsed once each.
  const known = normalizedUrls.get(url);
  if (known !== undefined) return known;
  const normalized = normalizeHtu(url);
  setBounded(normalizedUrls, url, normalized, MAX_NORMALIZED_URLS);
  return normalized;
}

/** URLs kept normalized (the oldest go first). */
const MAX_NORMALIZED_URLS = 1000;
const normalizedUrls = new Map<string, string | null>();

function normalizeHtu(url: string): string | null {
  if (!ABSOLUTE_HTTP_URL.test(url) || SPACE_OR_CONTROL.test(url)) return null;
  let parsed: URL;
  try {
    // WHATWG URL parsing lowercases scheme and host, drops the default port and removes dot segments.
    parsed = new URL(url);
  } catch {
    return null;
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.host === '') return null;
  if (parsed.username !== '' || parsed.password !== '') return null;
  // RFC 3986 §6.2.2.1 and §6.2.2.2: %7e and %7E are "~"; %2f stays %2F (a reserved character keeps its encoding).
  const path = parsed.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${parsed.protocol}//${parsed.host}${path}`;
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/**
 * RFC 9449 §4.3: checks a DPoP proof (the one value of the request's DPoP header, §4.3 items 1 and 2
 * being the caller's) for a request. One JWS through the core: at most maxLength characters, typ
 * dpop+jwt, an accepted asymmetric alg, signed by the public key in its own `jwk` header (§4.2: no
 * private members; the key's algorithm is the header's). Then its claims: a jti, htm the request's
 * method, htu its URL, iat within the window, at a resource server ath the access token's hash, and,
 * when the server asks for nonces, an accepted nonce (checked last: a client can fix only that one by
 * retrying). Throws DpopProofRejected. Remembering each jti until replayUntil, and comparing jkt with
 * the access token's cnf.jkt, are the caller's.
 */
export async function verifyDpopProof(proof: string, check: DpopProofCheck): Promise<VerifiedDpopProof> {
  const now = check.now ?? Date.now() / 1000;
  const algorithms = check.algorithms ?? DPOP_ALGORITHMS;
  const verified = await verifyJws<JwsKey>(proof, {
    algorithms,
    maxLength: check.maxLength,
    typ: isDpopType,
    // §4.2: the key is the header's jwk, public members only; its kid, if any, names nothing here.
    keyFor: (_kid, alg, header) => {
      const jwk = proofKey(header.jwk);
      // The thumbprint rides along as the key's kid: computed once per key, in proofKey.
      return jwk !== null && jwk.algorithms.includes(alg) ? { alg, key: jwk.key, kid: jwk.jkt } : undefined;
    },
    clockToleranceSeconds: check.clockToleranceSeconds,
    now,
  });
  if (!verified.ok) {
    const [reason, message] = REFUSALS[verified.failure];
    throw reject(reason, reason === 'unsupported_algorithm' ? `The DPoP proof must be signed with ${algorithms.join(', ')}.` : message);
  }
  const claims = verified.payload;
  // §4.2: jti, a unique identifier for the replay check (§11.1).
  const jti = claims.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw reject('missing_jti', `The DPoP proof needs a jti of 1 to ${MAX_JTI_LENGTH} characters.`);
  }
  // §4.3 item 8: the HTTP method, compared exactly (methods are case-sensitive, RFC 9110 §9.1).
  if (claims.htm !== check.htm) throw reject('wrong_method', 'The DPoP proof was made for another HTTP method.');
  // §4.3 item 9: the URL, without query and fragment, after syntax- and scheme-based normalization.
  const htu = typeof claims.htu === 'string' ? htuOf(claims.htu) : null;
  const expected = htuOf(check.htu);
  if (htu === null || expected === null || htu !== expected) throw reject('wrong_url', 'The DPoP proof was made for another URL.');
  // §4.3 item 10, §11.1: iat within the window either way, so a proof cannot be made long in advance nor kept.
  const iat = claims.iat;
  const window = check.windowSeconds + check.clockToleranceSeconds;
  if (!isFiniteNumber(iat)) throw reject('stale', 'The DPoP proof has no issue time.');
  if (Math.abs(now - iat) > window) throw reject('stale', 'The DPoP proof was not issued just now.');
  // §4.3 item 11: at a resource server, the proof is bound to the access token presented with it.
  if (check.accessToken !== undefined && claims.ath !== accessTokenHash(check.accessToken)) {
    throw reject('wrong_ath', 'The DPoP proof was not made for this access token.');
  }
  // §8, §9: a server nonce, when the server asks for one.
  if (check.nonce !== undefined) {
    const nonce = claims.nonce;
    if (typeof nonce !== 'string' || nonce.length === 0 || !check.nonce(nonce)) {
      throw reject('use_nonce', 'The DPoP proof must carry the nonce the server provided.');
    }
  }
  // RFC 9449 §6.1: cnf.jkt is the RFC 7638 SHA-256 thumbprint of the proof's public key (computed with the key, in proofKey).
  return { jkt: verified.key.kid ?? jwkThumbprint(verified.key.key), jti, iat, replayUntil: iat + window };
}

/** A proof's key, parsed: a client signs every proof with the same one. */
interface ProofKey {
  key: KeyObject;
  algorithms: readonly JwsAlgorithm[];
  jkt: string;
}

/** Distinct proof keys kept parsed (the oldest go first): importing and hashing a JWK costs more than the signature check. */
const MAX_PROOF_KEYS = 1000;
const proofKeys = new Map<string, ProofKey | null>();

/** The header's jwk as a key, parsed once per distinct JWK (refusals remembered too); null: not an acceptable public key. */
function proofKey(jwk: unknown): ProofKey | null {
  if (typeof jwk !== 'object' || jwk === null) return null;
  const id = JSON.stringify(jwk);
  const known = proofKeys.get(id);
  if (known !== undefined) return known;
  const read = readPublicJwk(jwk, "the DPoP proof's jwk");
  const parsed = read.ok ? { key: read.key, algorithms: read.algorithms, jkt: jwkThumbprint(read.key) } : null;
  setBounded(proofKeys, id, parsed, MAX_PROOF_KEYS);
  return parsed;
}
