/**
 * DPoP (RFC 9449) from the client's side, by hand with node:crypto: proof keys, their RFC 7638
 * thumbprints computed here (not by ccgate), proofs signed with any header and claims, and token
 * requests carrying DPoP headers as given (an array sends repeated header lines).
 */
import { constants, createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { b64json } from './jwt';
import { basicForm, type ClientAuth } from './oauth';
import { requestUrl, type RawResponse } from './http';
import { nowSeconds } from './time';

/** The algorithms ccgate accepts for DPoP proofs (RFC 9449 §5.1 dpop_signing_alg_values_supported). */
export const DPOP_ALGS = ['ES256', 'RS256', 'PS256'] as const;
export type DpopAlg = (typeof DPOP_ALGS)[number];

/** A client's DPoP key pair: the private half signs proofs, the public JWK goes in their header. */
export interface DpopKey {
  alg: DpopAlg;
  privateKey: KeyObject;
  /** Public members only. */
  publicJwk: Record<string, string>;
  /** Its RFC 7638 SHA-256 thumbprint: what a bound token's cnf.jkt must be. */
  jkt: string;
}

/** RFC 7638 §3.2: SHA-256 over the required members, in lexicographic order, without whitespace. */
export function thumbprintOf(jwk: Record<string, string>): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** A fresh key pair: P-256 for ES256, RSA 2048 for RS256 and PS256. */
export function dpopKey(alg: DpopAlg = 'ES256'): DpopKey {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, string>;
  return { alg, privateKey: pair.privateKey, publicJwk, jkt: thumbprintOf(publicJwk) };
}

export interface DpopProofInput {
  privateKey: KeyObject;
  /** The jwk header member, written as given (it may hold private members, or be another key's). */
  publicJwk: unknown;
  htm: string;
  htu: string;
  /** Default now. */
  iat?: number;
  /** Default 16 random bytes, base64url. */
  jti?: string;
  nonce?: string;
  ath?: string;
  /** How it is signed, and the header's alg (default ES256). */
  alg?: DpopAlg;
  /** Header members added or replaced (`undefined` drops one): typ, alg, jwk... */
  header?: Record<string, unknown>;
  /** Claims added or replaced (`undefined` drops one). */
  claims?: Record<string, unknown>;
}

/** Signs the input with the key per its algorithm (RFC 7518 §3.3 RS256, §3.5 PS256 with a 32-byte salt, §3.4 ES256 as raw r||s). */
function signature(alg: DpopAlg, key: KeyObject, data: Buffer): Buffer {
  if (alg === 'ES256') return sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  if (alg === 'PS256') return sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return sign('sha256', data, key);
}

/** RFC 9449 §4.2: a DPoP proof JWT, {typ: dpop+jwt, alg, jwk} and {jti, htm, htu, iat[, nonce][, ath]}. */
export function dpopProof(input: DpopProofInput): string {
  const alg = input.alg ?? 'ES256';
  const header = { typ: 'dpop+jwt', alg, jwk: input.publicJwk, ...input.header };
  const claims = {
    jti: input.jti ?? randomBytes(16).toString('base64url'),
    htm: input.htm,
    htu: input.htu,
    iat: input.iat ?? nowSeconds(),
    ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
    ...(input.ath === undefined ? {} : { ath: input.ath }),
    ...input.claims,
  };
  const signingInput = `${b64json(header)}.${b64json(claims)}`;
  return `${signingInput}.${signature(alg, input.privateKey, Buffer.from(signingInput)).toString('base64url')}`;
}

/** A proof by `key` for POST `htu` (a token request), with anything of the input overridden. */
export const tokenProof = (key: DpopKey, htu: string, extra: Partial<DpopProofInput> = {}): string =>
  dpopProof({ privateKey: key.privateKey, publicJwk: key.publicJwk, alg: key.alg, htm: 'POST', htu, ...extra });

export interface DpopTokenRequest {
  /** The DPoP header: one value, several (repeated header lines), or none. */
  dpop?: string | string[];
  /** Form members beside grant_type=client_credentials. */
  form?: Record<string, string>;
  /** Other request headers (e.g. Host). */
  headers?: Record<string, string>;
}

/** A client_credentials request to `${endpoints}/token` as `client` (client_secret_basic or _post), on a connection of its own. */
export function dpopTokenRequest(endpoints: string, client: ClientAuth, request: DpopTokenRequest = {}): Promise<RawResponse> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', ...request.form });
  const headers: Record<string, string | string[]> = { 'Content-Type': 'application/x-www-form-urlencoded', ...request.headers };
  if (client.method === 'post') {
    form.set('client_id', client.clientId);
    form.set('client_secret', client.clientSecret);
  } else {
    headers.Authorization = basicForm(client.clientId, client.clientSecret);
  }
  if (request.dpop !== undefined) headers.DPoP = request.dpop;
  return requestUrl(`${endpoints}/token`, { method: 'POST', headers, body: form.toString() });
}
