/**
 * JWTs by hand: decoding without verification, compact JWS signed with any key and any header,
 * HMAC and unsecured forgeries, claims of a plausible ccgate access token, keys the issuer never saw.
 */
import { createHash, createHmac, createPublicKey, createSign, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Ccgate } from '../../lib';
import { API_AUDIENCE, ISSUER } from './constants';
import { nowSeconds } from './time';

export interface DecodedJwt {
  header: Record<string, any>;
  payload: Record<string, any>;
  signature: string;
}

/** Decodes a compact JWS by hand (no verification). */
export function decodeJwt(token: string): DecodedJwt {
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
    signature: s,
  };
}

export const kidOf = (token: string): string => decodeJwt(token).header.kid as string;

/** base64url(JSON) of a JOSE header or a claims set. */
export const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs a JWS by hand with a PEM private key: RS256 for an RSA key, ES256 for a P-256 key (`alg`
 * says which; RFC 7518 §3.4 raw r||s for ES256). The header is written as given, so it may claim
 * another algorithm than the one used, and carry any member (jsonwebtoken refuses some shapes an
 * attacker is free to send).
 */
export function signJws(privateKeyPem: string, alg: 'RS256' | 'ES256', header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const signature = createSign('sha256')
    .update(input)
    .sign({ key: privateKeyPem, dsaEncoding: alg === 'ES256' ? 'ieee-p1363' : 'der' })
    .toString('base64url');
  return `${input}.${signature}`;
}

/** An HS256 JWS keyed with arbitrary bytes (the classic "public key as HMAC secret" attack). */
export function signHs256(secret: string | Buffer, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** An unsecured JWS (RFC 7515 / alg none: empty signature). */
export function unsecuredJws(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64json(header)}.${b64json(payload)}.`;
}

/** A JWT-shaped string with this payload and a signature that is not one (the CLI decodes without verifying). */
export function fakeJwt(payload: object): string {
  return `${b64json({ alg: 'RS256', typ: 'at+jwt', kid: 'k1' })}.${b64json(payload)}.c2lnbmF0dXJl`;
}

/** Verifies a compact JWS (RS256 or ES256) with a JWK, by hand with node:crypto. */
export function verifiesWithJwk(token: string, jwk: Record<string, string>): boolean {
  const [h, p, s] = token.split('.');
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  return verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
}

/** RFC 7638 §3 thumbprint of a public RSA or EC JWK, recomputed independently of ccgate. */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  const members = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

// ---- claims ----

/** Claims of a valid ccgate token for `clientId` from the in-process test issuer (ISSUER), overridable claim by claim. */
export function claimsFor(clientId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds();
  return {
    iss: ISSUER,
    sub: clientId,
    aud: ISSUER,
    iat: now,
    exp: now + 300,
    jti: randomBytes(12).toString('base64url'),
    client_id: clientId,
    scope: 'reports:read',
    ...overrides,
  };
}

/** claimsFor a token from a standards test issuer `issuer` (its identifier) for API_AUDIENCE. */
export function claimsFrom(issuer: string, clientId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return claimsFor(clientId, { iss: issuer, aud: API_AUDIENCE, ...overrides });
}

// ---- keys ----

/** A key pair the issuer has never seen (an attacker's). */
export function foreignKey(alg: 'RS256' | 'ES256' = 'RS256') {
  const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicJwk: pair.publicKey.export({ format: 'jwk' }) as Record<string, string>,
  };
}

export interface RealKey {
  kid: string;
  privateKeyPem: string;
  publicKeyPem: string;
  publicJwk: object;
}

/** The registry's current signing key (issue one token first so it exists), its private half decrypted if it is stored encrypted. */
export async function realKey(server: { auth: Ccgate }): Promise<RealKey> {
  const keys = await server.auth.registry.listKeys();
  const key = keys.find((k) => k.status === 'active') ?? keys[0];
  if (!key) throw new Error('no signing key yet');
  const publicKeyPem = createPublicKey({ key: { ...key.publicJwk }, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  return { kid: key.kid, privateKeyPem: server.auth.registry.openPrivateKey(key), publicKeyPem, publicJwk: key.publicJwk };
}

/**
 * A token signed with jsonwebtoken by `key` (RS256, typ at+jwt, the key's kid; `header` adds or
 * overrides members): with the real key, only what the caller changes is wrong.
 */
export function forge(key: { kid: string; privateKeyPem: string }, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  return jwt.sign(payload, key.privateKeyPem, { algorithm: 'RS256', header: { alg: 'RS256', typ: 'at+jwt', kid: key.kid, ...header } });
}
