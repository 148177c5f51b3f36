import { randomUUID } from 'node:crypto';

/**
 * Longest access token lifetime (exp - iat) an issuer gives, and the guards accept: RFC 9700 §2.2
 * wants short-lived tokens, and a leaked signing key must not mint long-lived ones.
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 86_400;

/** RFC 9068 §2.1: the JOSE header type of a JWT access token. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** RFC 9068 §2.2 claims of a ccgate access token. `scope` is space-delimited (RFC 8693 §4.2). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nbf?: number;
  jti: string;
  client_id: string;
  scope: string;
  /** RFC 9449 §6.1 / RFC 7800 §3.1: a DPoP-bound token's confirmation, the RFC 7638 thumbprint of the client's proof key. */
  cnf?: { jkt: string };
  [claim: string]: unknown;
}

export interface ClaimsInput {
  issuer: string;
  audience: string | string[];
  clientId: string;
  scopes: string[];
  lifetimeSeconds: number;
  now: number;
  /** Binds the token to this DPoP key (its RFC 7638 thumbprint, RFC 9449 §6.1); undefined: a bearer token. */
  jkt?: string;
}

/** RFC 9068 §2.2: for client credentials, sub is the client itself. */
export function buildClaims(input: ClaimsInput): AccessTokenClaims {
  return {
    iss: input.issuer,
    sub: input.clientId,
    aud: input.audience,
    exp: input.now + input.lifetimeSeconds,
    iat: input.now,
    // randomUUID draws from a buffered entropy pool: 122 random bits without a syscall per token.
    jti: randomUUID(),
    client_id: input.clientId,
    scope: input.scopes.join(' '),
    ...(input.jkt === undefined ? {} : { cnf: { jkt: input.jkt } }),
  };
}

/**
 * The DPoP key a token is bound to (RFC 9449 §6.1: `cnf.jkt`, a non-empty string), or null for a
 * bearer token. Read from claims already verified; anything else in `cnf` is not ours to judge.
 */
export function boundJkt(claims: AccessTokenClaims): string | null {
  const cnf = claims.cnf as unknown;
  if (typeof cnf !== 'object' || cnf === null) return null;
  const jkt = (cnf as Record<string, unknown>).jkt;
  return typeof jkt === 'string' && jkt.length > 0 ? jkt : null;
}
