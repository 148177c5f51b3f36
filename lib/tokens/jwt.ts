import { sign } from 'node:crypto';
import { ACCESS_TOKEN_TYP, type AccessTokenClaims } from './claims';
import type { SigningKey } from './keyring';

/** The JOSE header fields we read. Anything else (jku, x5u, jwk, crit...) is never acted on. */
export interface JoseHeader {
  alg?: unknown;
  typ?: unknown;
  kid?: unknown;
  [member: string]: unknown;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs claims as an RFC 9068 JWT access token. node:crypto's asynchronous sign runs on libuv's
 * thread pool, so RS256 signing (≈1 ms) neither blocks the event loop nor uses only one core.
 */
export function signAccessToken(claims: AccessTokenClaims, key: SigningKey): Promise<string> {
  const input = `${encode({ alg: key.alg, typ: ACCESS_TOKEN_TYP, kid: key.kid })}.${encode(claims)}`;
  return new Promise((resolve, reject) => {
    // ES256 signatures are the raw r||s pair in JWS (RFC 7518 §3.4), not DER.
    sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }, (err, signature) => {
      if (err) reject(err);
      else resolve(`${input}.${signature.toString('base64url')}`);
    });
  });
}

/** Reads a compact JWS header without trusting anything in it; null if it is not one. */
export function readHeader(token: string): JoseHeader | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) return null;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && !Array.isArray(header) ? (header as JoseHeader) : null;
  } catch {
    return null;
  }
}
