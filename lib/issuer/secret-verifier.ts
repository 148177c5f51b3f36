import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { SecretHasher } from './bcrypt-pool';

interface Remembered {
  /** The bcrypt hash this secret matched: a rotation changes it, so the entry stops matching. */
  hash: string;
  digest: Buffer;
}

/**
 * Checks client secrets. A successful check is remembered as an HMAC of the secret under a key that
 * lives only in this process, tied to the bcrypt hash it matched: the next request with the same
 * secret costs one HMAC instead of one bcrypt. Failures are never remembered, the secret is never held
 * in clear, and a rotated, disabled or deleted client misses at once (the caller reads the registry
 * row first, and the stored hash is part of the entry).
 */
export class SecretVerifier {
  private readonly hmacKey = randomBytes(32);
  private readonly remembered = new Map<string, Remembered>();
  private dummyHash: Promise<string>;

  constructor(
    private readonly hasher: SecretHasher,
    bcryptCost: number,
    private readonly maxRemembered = 10_000,
  ) {
    // Unknown client ids are compared against this, so they cost the same time as a wrong secret.
    this.dummyHash = bcrypt.hash(randomBytes(16).toString('base64url'), bcryptCost);
  }

  /** true when `secret` matches one of `hashes`; with hashes null (unknown client) always false, same cost. */
  async verify(clientId: string, secret: string, hashes: string[] | null): Promise<boolean> {
    if (hashes === null || hashes.length === 0) {
      await this.hasher.compare(secret, [await this.dummyHash]);
      return false;
    }
    const digest = createHmac('sha256', this.hmacKey).update(secret).digest();
    const known = this.remembered.get(clientId);
    if (known && hashes.includes(known.hash) && timingSafeEqual(known.digest, digest)) return true;
    const matched = await this.matchingHash(secret, hashes);
    if (matched === null) return false;
    this.remember(clientId, { hash: matched, digest });
    return true;
  }

  forget(clientId: string): void {
    this.remembered.delete(clientId);
  }

  get rememberedCount(): number {
    return this.remembered.size;
  }

  private async matchingHash(secret: string, hashes: string[]): Promise<string | null> {
    // One hash per compare so we know which one matched (during a rotation overlap there are two).
    for (const hash of hashes) if (await this.hasher.compare(secret, [hash])) return hash;
    return null;
  }

  private remember(clientId: string, entry: Remembered): void {
    this.remembered.delete(clientId);
    if (this.remembered.size >= this.maxRemembered) {
      const oldest = this.remembered.keys().next();
      if (!oldest.done) this.remembered.delete(oldest.value);
    }
    this.remembered.set(clientId, entry);
  }
}
