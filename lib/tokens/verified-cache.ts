import { DEFAULTS } from '../defaults';
import type { AccessTokenClaims } from './claims';

export interface VerifiedCacheOptions {
  /** Most tokens held (default 10,000). 0 disables the cache. */
  maxEntries?: number;
  /** Most bytes of token text held, roughly (default 16 MiB). */
  maxBytes?: number;
}

interface Entry {
  claims: AccessTokenClaims;
  /** The key that signed it, when there is one: the verifier drops the entry once that key is gone (revoked). */
  kid?: string;
  /** Unix seconds after which the entry is useless (exp + tolerance). */
  until: number;
  bytes: number;
}

/** Per-entry overhead estimate on top of the token text (the parsed claims, map slot). */
const ENTRY_OVERHEAD_BYTES = 600;

/**
 * Tokens whose signature and claims were already verified, so a repeat sight costs a map lookup
 * instead of a signature check. Bounded by entries and by bytes, oldest evicted first; an entry is
 * never used past the token's expiry. Revocation is not cached here: callers check it every time.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(options: VerifiedCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULTS.verifiedCache.maxEntries;
    this.maxBytes = options.maxBytes ?? DEFAULTS.verifiedCache.maxBytes;
  }

  /** Test hook: entries held. */
  get size(): number {
    return this.entries.size;
  }

  /** Test hook: the byte estimate the bound applies to. */
  get byteSize(): number {
    return this.bytes;
  }

  get(token: string, now: number): AccessTokenClaims | undefined {
    return this.lookup(token, now)?.claims;
  }

  /** The claims and the kid they were verified with, unless expired. */
  lookup(token: string, now: number): { claims: AccessTokenClaims; kid?: string } | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.delete(token, entry);
      return undefined;
    }
    return entry;
  }

  /** Forgets one token (its key was revoked). */
  forget(token: string): void {
    const entry = this.entries.get(token);
    if (entry) this.delete(token, entry);
  }

  set(token: string, claims: AccessTokenClaims, until: number, kid?: string): void {
    // <= 0, not === 0: a negative bound would make the eviction loop below spin forever on an empty map.
    if (!(this.maxEntries > 0)) return;
    const bytes = token.length * 2 + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.maxBytes) return;
    const old = this.entries.get(token);
    if (old) this.delete(token, old);
    while (this.entries.size >= this.maxEntries || this.bytes + bytes > this.maxBytes) this.evictOldest();
    this.entries.set(token, { claims, kid, until, bytes });
    this.bytes += bytes;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  private evictOldest(): void {
    const oldest = this.entries.entries().next();
    if (oldest.done) return;
    this.delete(oldest.value[0], oldest.value[1]);
  }

  private delete(token: string, entry: Entry): void {
    this.entries.delete(token);
    this.bytes -= entry.bytes;
  }
}
