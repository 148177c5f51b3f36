import { DEFAULTS } from '../defaults';
import { AssertionRejected, RemoteFetchError, type AssertionRejectionReason } from '../errors';
import type { ClientKeys } from './jwk-set';
import { readUnverifiedClaims, verifyJws, type JwsAlgorithm, type JwsFailure } from './jws';

/** RFC 7523 §2.2: the client_assertion_type of a JWT client assertion. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Algorithms a client may sign its assertions with (advertised as *_auth_signing_alg_values_supported). */
export const ASSERTION_ALGORITHMS: readonly JwsAlgorithm[] = ['RS256', 'PS256', 'ES256'];

const MAX_JTI_LENGTH = 256;

export interface ClientAssertionCheck {
  /** The client whose keys `keys` are: the assertion's iss and sub must both be it. */
  clientId: string;
  keys: ClientKeys;
  /** What aud may name (the issuer identifier, the token endpoint URL): one of them is enough. */
  audiences: readonly string[];
  /** Longest an assertion may still live (exp - now), in seconds (default 300). */
  maxLifetimeSeconds?: number;
  /** Seconds of clock skew allowed on exp / nbf / iat (default 5). */
  clockToleranceSeconds?: number;
  /** Longest assertion read, in characters (default 4096). */
  maxLength?: number;
  /** Unix seconds (default the clock). */
  now?: number;
}

/** What the caller needs of a valid assertion: its jti, to be used once (RFC 7523 §3 item 7) until exp. */
export interface VerifiedAssertion {
  jti: string;
  exp: number;
}

/** What the JWS core's refusals mean for an assertion, and what is said of each. */
const REFUSALS: Record<JwsFailure, [AssertionRejectionReason, string]> = {
  too_long: ['too_long', 'The client assertion is too long.'],
  not_jws: ['malformed', 'The client assertion is not a JWT.'],
  unsupported_algorithm: ['unsupported_algorithm', `The client assertion must be signed with ${ASSERTION_ALGORITHMS.join(', ')}.`],
  wrong_type: ['malformed', 'The client assertion has an unexpected type.'],
  // RFC 7515 §4.1.11: extensions listed in crit must be understood, and we understand none.
  unsupported_extension: ['unsupported_extension', 'The client assertion requires a header extension that is not supported.'],
  no_kid: ['malformed', 'The client assertion names its key with something other than a string.'],
  unknown_key: ['unknown_key', "The client assertion was not signed by one of the client's keys."],
  bad_signature: ['bad_signature', 'The client assertion signature is invalid.'],
  expired: ['expired', 'The client assertion expired.'],
  not_yet_valid: ['not_yet_valid', 'The client assertion is not valid yet.'],
  malformed: ['malformed', 'The client assertion is invalid.'],
  no_claims: ['malformed', 'The client assertion has no claims.'],
};

const reject = (reason: AssertionRejectionReason, message: string): AssertionRejected => new AssertionRejected(reason, message);

/**
 * The `iss` of an assertion that is not verified yet: which client it claims to come from, to pick
 * that client's keys when the request names no client_id (RFC 7521 §4.2). Trusted for nothing else.
 */
export function assertionIssuer(assertion: string, maxLength: number = DEFAULTS.clientAssertion.maxLength): string | null {
  const iss = readUnverifiedClaims(assertion, maxLength)?.iss;
  return typeof iss === 'string' && iss.length > 0 ? iss : null;
}

/**
 * RFC 7523 §3 for client authentication (§2.2): signed with one of the client's keys in an
 * accepted algorithm, iss and sub the client, aud naming us, exp present and near, iat (when present)
 * not in the future, nbf reached, and a jti. Throws AssertionRejected; keeping each jti from being
 * used twice is the caller's.
 */
export async function verifyClientAssertion(assertion: string, check: ClientAssertionCheck): Promise<VerifiedAssertion> {
  const tolerance = check.clockToleranceSeconds ?? DEFAULTS.clockToleranceSeconds;
  const now = check.now ?? Date.now() / 1000;
  const verified = await verifyJws(assertion, {
    algorithms: ASSERTION_ALGORITHMS,
    maxLength: check.maxLength ?? DEFAULTS.clientAssertion.maxLength,
    keyFor: (kid, alg) => check.keys.keyFor(kid, alg),
    clockToleranceSeconds: tolerance,
    now,
  }).catch((err: unknown) => {
    // A jwks_uri that cannot be fetched: the client cannot be authenticated now, which is no fault of ours.
    throw err instanceof RemoteFetchError ? new AssertionRejected('keys_unavailable', "The client's keys cannot be fetched.", { cause: err }) : err;
  });
  if (!verified.ok) throw reject(...REFUSALS[verified.failure]);
  const claims = verified.payload;
  // RFC 7523 §3 items 1 and 2: for client authentication, iss and sub are both the client_id.
  if (claims.iss !== check.clientId) throw reject('wrong_issuer', 'The client assertion was not issued by this client.');
  if (claims.sub !== check.clientId) throw reject('wrong_subject', 'The client assertion is not about this client.');
  // RFC 7523 §3 item 3: aud, a string or an array, must identify this authorization server.
  const named: unknown[] = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!named.some((a) => typeof a === 'string' && check.audiences.includes(a))) {
    throw reject('wrong_audience', 'The client assertion is meant for another audience.');
  }
  // RFC 7523 §3 item 4: exp is required (jsonwebtoken checks it only when present).
  const exp = claims.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw reject('malformed', 'The client assertion has no expiry.');
  const maxLifetime = check.maxLifetimeSeconds ?? DEFAULTS.clientAssertion.maxLifetimeSeconds;
  // A short-lived assertion bounds how long its jti must be remembered.
  if (exp - now > maxLifetime + tolerance) {
    throw reject('lifetime_too_long', `The client assertion may live at most ${maxLifetime} seconds from now.`);
  }
  // RFC 7523 §3 item 6: iat, when present, is the time of issue; not in the future.
  if (claims.iat !== undefined && (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat))) {
    throw reject('malformed', 'The client assertion has a malformed issue time.');
  }
  if (claims.iat !== undefined && claims.iat > now + tolerance) throw reject('not_yet_valid', 'The client assertion was issued in the future.');
  // RFC 7523 §3 item 7: a jti, so the assertion can be used only once.
  const jti = claims.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw reject('missing_jti', `The client assertion needs a jti of 1 to ${MAX_JTI_LENGTH} characters.`);
  }
  return { jti, exp };
}
