import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { SecretHasher } from './bcrypt-pool';
import { setBounded } from '../bounded-map';

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
  /** Dummy hashes by bcrypt cost: unknown client ids are compared against one, like a wrong secret. */
  private readonly dummyHashes = new Map<number, Promise<string>>();
  /**
   * The cost of the registry's hashes as last seen. The CLI may hash with another cost than this
   * instance (--bcrypt-cost, CCGATE_BCRYPT_COST): unknown ids must cost what real clients cost.
   */
  private registryCost: number;

  constructor(
    private readonly hasher: SecretHasher,
    bcryptCost: number,
    private readonly maxRemembered = 10_000,
  ) {
    this.registryCost = bcryptCost;
    void this.dummyHash(bcryptCost);
  }

  /** true when `secret` matches one of `hashes`; with hashes null (unknown client) always false, same cost. */
  async verify(clientId: string, secret: string, hashes: string[] | null): Promise<boolean> {
    if (hashes === null || hashes.length === 0) {
      await this.hasher.compare(secret, [await this.dummyHash(this.registryCost)]);
      return false;
    }
    this.registryCost = costOf(hashes[0]) ?? this.registryCost;
    const digest = createHmac('sha256', this.hmacKey).update(secret).digest();
    const known = this.remembered.get(clientId);
    if (known && hashes.includes(known.hash) && timingSafeEqual(known.digest, digest)) return true;
    const matched = await this.sharedMatch(clientId, digest, secret, hashes);
    if (matched === null) return false;
    setBounded(this.remembered, clientId, { hash: matched, digest }, this.maxRemembered);
    return true;
  }

  /** Concurrent checks of the same client and secret share one bcrypt run (a fleet starting at once). */
  private sharedMatch(clientId: string, digest: Buffer, secret: string, hashes: string[]): Promise<string | null> {
    const key = `${clientId}\0${digest.toString('base64')}\0${hashes.join(' ')}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.matchingHash(secret, hashes).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }
  private readonly inFlight = new Map<string, Promise<string | null>>();

  private dummyHash(cost: number): Promise<string> {
    let hash = this.dummyHashes.get(cost);
    if (!hash) {
      hash = bcrypt.hash(randomBytes(16).toString('base64url'), cost);
      this.dummyHashes.set(cost, hash);
    }
    return hash;
  }

  private async matchingHash(secret: string, hashes: string[]): Promise<string | null> {
    // One hash per compare so we know which one matched (during a rotation overlap there are two).
    for (const hash of hashes) if (await this.hasher.compare(secret, [hash])) return hash;
    return null;
  }
}

/** The cost of a bcrypt hash ("$2b$10$..."), within the range the registry allows; else null. */
function costOf(hash: string): number | null {
  const match = /^\$2[abxy]?\$(\d\d)\$/.exec(hash);
  const cost = match ? Number(match[1]) : NaN;
  return cost >= 4 && cost <= 15 ? cost : null;
}
