import { createHash, type KeyObject } from 'node:crypto';

/** The JWS algorithms ccgate signs access tokens with (RFC 7518 §3.3 and §3.4). */
export type SigningAlgorithm = 'RS256' | 'ES256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];

/** Public JWK members we publish (RFC 7517 §4, RFC 7518 §6). */
export interface PublicJwk {
  kty: 'RSA' | 'EC';
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

/**
 * The public JWK of a key, rebuilt member by member from the public KeyObject: whatever the key was
 * made from, no private member can end up in it.
 */
export function publicJwkOf(kid: string, alg: SigningAlgorithm, publicKey: KeyObject): PublicJwk {
  const jwk = publicKey.export({ format: 'jwk' });
  return jwk.kty === 'RSA' ? { kty: 'RSA', kid, alg, use: 'sig', n: jwk.n, e: jwk.e } : { kty: 'EC', kid, alg, use: 'sig', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/** RFC 7638 §3: the JWK thumbprint, SHA-256 over the required members in lexicographic order. */
export function jwkThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  const members = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}
