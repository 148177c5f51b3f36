import { hkdfSync, randomBytes } from 'node:crypto';

/** HKDF's info (RFC 5869 §2.3): the nonce key is made for this one use of the key secret, and no other. */
const NONCE_KEY_LABEL = 'ccgate DPoP nonce key v1';

/** The secret DPoP nonces (RFC 9449 §8) are made and checked with, and whether other instances can have it too. */
export interface DpopNonceSecret {
  secret: string | Buffer;
  /** True when every instance configured alike has the same secret, so a nonce from one is accepted by all. */
  shared: boolean;
}

/**
 * The configured nonce secret; else one derived from the key secret (HKDF-SHA256, RFC 5869, with a
 * label of its own: the nonce key tells nothing about the key secret), so instances sharing a
 * registry and its key secret share nonces; else 32 random bytes for this process alone (nonces then
 * only work with one instance: another one refuses them, and hands out its own).
 */
export function dpopNonceSecret(configured: string | undefined, keySecret: string | undefined): DpopNonceSecret {
  if (configured !== undefined) return { secret: configured, shared: true };
  if (keySecret !== undefined) return { secret: Buffer.from(hkdfSync('sha256', keySecret, '', NONCE_KEY_LABEL, 32)), shared: true };
  return { secret: randomBytes(32), shared: false };
}
