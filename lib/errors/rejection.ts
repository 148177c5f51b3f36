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

/** A token that is not a valid ccgate access token; the message is safe to send to the caller. */
export class TokenRejected extends Error {
  constructor(
    readonly reason: RejectionReason,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRejected';
  }
}
