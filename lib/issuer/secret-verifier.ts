import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { setBounded } from '../bounded-map';
import { NO_CACHE_TELEMETRY, type CacheTelemetry } from '../metrics/telemetry';
import type { SecretHasher } from './bcrypt-pool';

interface Remembered {
  /** The bcrypt hash this secret matched: a rotation changes it, so the entry stops matching. */
  hash: string;
  digest: Buffer;
}

/** Secrets remembered per client: two, so both secrets of a rotation overlap stay cheap. */
const PER_CLIENT = 2;

/**
 * Checks client secrets. A successful check is remembered as an HMAC of the secret under a key that
 * lives only in this process, tied to the bcrypt hash it matched: the next request with the same
 * secret costs one HMAC instead of one bcrypt run, and is recognised before any throttle is asked.
 * Failures are never remembered, the secret is never held in clear, and a rotated, disabled or
 * deleted client misses at once (the caller reads the credentials first, and the stored hash is part
 * of the entry).
 *
 * The cost of a check depends only on what the caller sent: one bcrypt run per candidate secret
 * (an ambiguous Basic encoding gives two), against the registry's hashes, which share one salt
 * during a rotation overlap, or against a dummy hash of the configured cost for an unknown client.
 */
export class SecretVerifier {
  private readonly hmacKey = randomBytes(32);
  private readonly remembered = new Map<string, Remembered[]>();
  private readonly inFlight = new Map<string, Promise<string | null>>();
  /** Unknown client ids are checked against this, so they cost what a known client costs. */
  private readonly dummyHash: Promise<string>;

  constructor(
    private readonly hasher: SecretHasher,
    bcryptCost: number,
    private readonly maxRemembered = 10_000,
    private readonly cacheTelemetry: CacheTelemetry = NO_CACHE_TELEMETRY,
  ) {
    this.dummyHash = bcrypt.hash(randomBytes(16).toString('base64url'), bcryptCost);
  }

  /** Cheap (HMAC only): one of the candidates is a secret recently verified right against one of `hashes`. */
  recognizes(clientId: string, candidates: string[], hashes: string[]): boolean {
    const known = this.remembered.get(clientId);
    if (!known) return false;
    const hit = candidates.some((candidate) => {
      const digest = this.digest(candidate);
      return known.some((k) => hashes.includes(k.hash) && timingSafeEqual(k.digest, digest));
    });
    // Hits are counted here, misses where bcrypt runs (sharedMatch): a miss is asked about twice before bcrypt.
    if (hit) this.cacheTelemetry.lookup(true);
    return hit;
  }

  /**
   * true when one of the candidates matches one of `hashes`; with hashes null (unknown client)
   * always false, at the same cost. `source` (the caller's address) queues the bcrypt work fairly.
   */
  async verify(clientId: string, candidates: string[], hashes: string[] | null, source: string): Promise<boolean> {
    if (hashes === null || hashes.length === 0) {
      await this.hasher.match(candidates, [await this.dummyHash], source);
      return false;
    }
    if (this.recognizes(clientId, candidates, hashes)) return true;
    const matched = await this.sharedMatch(clientId, candidates, hashes, source);
    return matched !== null;
  }

  private digest(secret: string): Buffer {
    return createHmac('sha256', this.hmacKey).update(secret).digest();
  }

  /** Concurrent checks of the same client and candidates share one bcrypt run (a fleet starting at once). */
  private sharedMatch(clientId: string, candidates: string[], hashes: string[], source: string): Promise<string | null> {
    this.cacheTelemetry.lookup(false);
    const key = `${clientId}\0${candidates.map((c) => this.digest(c).toString('base64')).join(' ')}\0${hashes.join(' ')}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.hasher
        .match(candidates, hashes, source)
        .then((match) => {
          if (match) this.remember(clientId, match.hash, this.digest(match.candidate));
          return match?.hash ?? null;
        })
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private remember(clientId: string, hash: string, digest: Buffer): void {
    const kept = (this.remembered.get(clientId) ?? []).filter((k) => k.hash !== hash).slice(-(PER_CLIENT - 1));
    setBounded(this.remembered, clientId, [...kept, { hash, digest }], this.maxRemembered);
  }
}
