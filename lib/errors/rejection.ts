/**
 * Why a presented access token was not accepted: a stable, machine-readable reason beside the human
 * message. Audit events and metrics carry the reason; the message is what the caller is told.
 */
export type RejectionReason =
  /** Not a compact JWS, unreadable header or claims, a missing or mistyped claim. */
  | 'malformed'
  /** Longer than the configured maximum, refused before any parsing. */
  | 'too_long'
  /** The header's alg is not in the accepted list (never `none`, never an HMAC). */
  | 'unsupported_algorithm'
  /** The header's typ is not `at+jwt` (RFC 9068 §4). */
  | 'wrong_type'
  /** A `crit` header extension we do not understand (RFC 7515 §4.1.11). */
  | 'unsupported_extension'
  /** No published key has this kid (or its algorithm differs from the header's). */
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  /** Issued in the future (`iat` beyond the clock tolerance), or `nbf` not reached. */
  | 'not_yet_valid'
  /** `exp - iat` exceeds the longest lifetime an issuer may give (86,400 s): minted with a leaked key, or by someone else. */
  | 'lifetime_too_long'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'revoked'
  | 'client_disabled'
  | 'client_unknown'
  /** The issuer's introspection endpoint answered `active: false` (RFC 7662 §2.2). */
  | 'inactive';

/**
 * An error with a stable, machine-readable `reason` beside its human message (safe to send): the
 * shape of every refusal ccgate explains by a code (tokens, client assertions, DPoP proofs, fetches).
 */
export class ReasonedError<R extends string> extends Error {
  constructor(
    readonly reason: R,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A token that is not a valid ccgate access token; the message is safe to send to the caller. */
export class TokenRejected extends ReasonedError<RejectionReason> {}

/**
 * Why a client assertion (private_key_jwt, RFC 7523 §2.2 and §3) did not authenticate its client.
 * Every one is answered invalid_client; the reason goes to audit events and metrics.
 */
export type AssertionRejectionReason =
  /** Not a compact JWS, unreadable claims, a missing exp, a kid or iat of the wrong type. */
  | 'malformed'
  /** Longer than the configured maximum, refused before any parsing. */
  | 'too_long'
  /** Not RS256, PS256 or ES256 (never `none`, never an HMAC). */
  | 'unsupported_algorithm'
  /** A `crit` header extension we do not understand (RFC 7515 §4.1.11). */
  | 'unsupported_extension'
  /** None of the client's keys has this kid (or, without a kid, no single key fits), or its algorithm differs. */
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  /** `nbf` not reached, or `iat` beyond the clock tolerance in the future. */
  | 'not_yet_valid'
  /** `exp` further ahead than the longest assertion lifetime accepted. */
  | 'lifetime_too_long'
  /** RFC 7523 §3 item 1: `iss` is not the client. */
  | 'wrong_issuer'
  /** RFC 7523 §3 item 2: `sub` is not the client. */
  | 'wrong_subject'
  /** RFC 7523 §3 item 3: `aud` names neither the issuer nor its token endpoint. */
  | 'wrong_audience'
  /** RFC 7523 §3 item 7: no usable `jti`. */
  | 'missing_jti'
  /** The client's jwks_uri could not be fetched (the cause says why). */
  | 'keys_unavailable'
  /** The jti was already used (RFC 7523 §3 item 7): the caller's replay check. */
  | 'replayed'
  /** The client is registered for another authentication method: the caller's check. */
  | 'wrong_method';

/** A client assertion that does not authenticate its client; the message is safe to send. */
export class AssertionRejected extends ReasonedError<AssertionRejectionReason> {}

/**
 * Why a DPoP proof (RFC 9449 §4.2, §4.3) was not accepted, at the token endpoint or at a resource
 * server; both answer invalid_dpop_proof (use_dpop_nonce for 'use_nonce', §8, §9). The reason goes to
 * audit events and metrics.
 */
export type DpopRejectionReason =
  /** Not a compact JWS, unreadable header or claims, a kid that is not a string, a `crit` header. */
  | 'malformed'
  /** Longer than the configured maximum, refused before any parsing. */
  | 'too_long'
  /** §4.3 item 4: the header's typ is not `dpop+jwt`. */
  | 'wrong_type'
  /** §4.3 item 5: not one of the accepted asymmetric algorithms (never `none`, never an HMAC). */
  | 'unsupported_algorithm'
  /** §4.2, §4.3 item 7: no `jwk` header, or not a public RSA (2048 bits or more) or EC P-256 key fit for the alg. */
  | 'bad_key'
  /** §4.3 item 6: the signature does not verify with the proof's own key. */
  | 'bad_signature'
  /** §4.3 item 8: `htm` is not the request's method. */
  | 'wrong_method'
  /** §4.3 item 9: `htu` is not the request's URL (without query and fragment). */
  | 'wrong_url'
  /** §4.3 item 10, §11.1: `iat` missing or outside the accepted window (or an `exp` / `nbf` that refuses it). */
  | 'stale'
  /** §4.2, §4.3 item 3: no usable `jti`. */
  | 'missing_jti'
  /** §4.3 item 11: at a resource server, `ath` missing or not the hash of the access token presented. */
  | 'wrong_ath'
  /** §8, §9, §4.3 item 10: the server requires a nonce and the proof has none, or one no longer accepted. */
  | 'use_nonce'
  /** §11.1: the jti was seen before: the caller's replay check. */
  | 'replayed'
  /** §4.3 item 12, §7.1: the proof's key is not the one the access token is bound to (cnf.jkt): the guard's check. */
  | 'key_mismatch';

/** A DPoP proof that is not accepted; the message is safe to send. */
export class DpopProofRejected extends ReasonedError<DpopRejectionReason> {}
