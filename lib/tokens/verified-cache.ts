import { DEFAULTS } from '../defaults';
import type { AccessTokenClaims } from './claims';

export interface VerifiedCacheOptions {
  /** Most tokens held (default 10,000). 0 disables the cache. */
  maxEntries?: number;
  /** Most bytes of token text held, roughly (default 16 MiB). */
  maxBytes?: number;
}

/** A verified token as the cache holds it: its claims and what the guard reads of them on every request, parsed once. */
export interface VerifiedToken {
  readonly claims: AccessTokenClaims;
  /** The key that signed it, when there is one: the verifier drops the entry once that key is gone (revoked). */
  readonly kid?: string;
  /** `scope` split on its spaces (RFC 6749 §3.3), in the token's order; empty for an empty scope. Never modify it. */
  readonly scopes: readonly string[];
}

interface Entry extends VerifiedToken {
  /** The whole token: the map key is only its tail. */
  readonly token: string;
  /** Unix seconds after which the entry is useless (exp + tolerance). */
  readonly until: number;
  readonly bytes: number;
}

/** Per-entry overhead estimate on top of the token text (the parsed claims, map slot). */
const ENTRY_OVERHEAD_BYTES = 600;

/**
 * Characters of the token's end the map is keyed by. Hashing a string reads all of it, and a token
 * arrives as a new string with every request: keying by the whole ~800 characters cost more than the
 * rest of a cached check. The end of a JWS is its signature (43 characters and more for every
 * algorithm accepted), so two tokens share a key only on purpose; a lookup compares the whole token,
 * so one that merely shares the tail of a cached token is a miss.
 */
const KEY_CHARS = 32;

/** The split scope claim (kept exactly as the guard has always split it: duplicates stay). */
export function scopesOf(claims: AccessTokenClaims): readonly string[] {
  return claims.scope === '' ? [] : claims.scope.split(' ');
}

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

  /** The verified token (claims, kid, scopes), unless expired or not held. */
  lookup(token: string, now: number): VerifiedToken | undefined {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (entry === undefined || entry.token !== token) return undefined;
    if (entry.until <= now) {
      this.delete(key, entry);
      return undefined;
    }
    return entry;
  }

  /** Forgets one token (its key was revoked). */
  forget(token: string): void {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.token === token) this.delete(key, entry);
  }

  set(token: string, claims: AccessTokenClaims, until: number, kid?: string): void {
    // <= 0, not === 0: a negative bound would make the eviction loop below spin forever on an empty map.
    if (!(this.maxEntries > 0)) return;
    const bytes = token.length * 2 + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.maxBytes) return;
    const key = keyOf(token);
    // The same key held by another token (never by chance: see KEY_CHARS) is replaced like the same token.
    const old = this.entries.get(key);
    if (old) this.delete(key, old);
    while (this.entries.size >= this.maxEntries || this.bytes + bytes > this.maxBytes) this.evictOldest();
    this.entries.set(key, { claims, kid, scopes: scopesOf(claims), token, until, bytes });
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

  private delete(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}

const keyOf = (token: string): string => (token.length <= KEY_CHARS ? token : token.slice(token.length - KEY_CHARS));
