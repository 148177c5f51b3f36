import { createHmac, timingSafeEqual } from 'node:crypto';
import { DEFAULTS } from '../defaults';
import { ConfigurationError } from '../errors';

/** Separates these MACs from anything else the same secret may key. */
const LABEL = Buffer.from('ccgate-dpop-nonce');
const SLOT_BYTES = 8;
const MAC_BYTES = 16;
/** 24 bytes in base64url: exactly 32 characters, no padding, no spare bits (so one spelling per nonce). */
const NONCE = /^[A-Za-z0-9_-]{32}$/;
/** Shortest secret accepted: 128 bits. */
const MIN_SECRET_BYTES = 16;

export interface DpopNonceOptions {
  /** Keys the nonces; every instance given the same secret hands out and accepts the same ones. At least 16 bytes. */
  secret: string | Buffer;
  /** Longest a nonce is accepted, in seconds (default DEFAULTS.dpop.nonceLifetimeSeconds); a new one is handed out every half of it. */
  lifetimeSeconds?: number;
  /**
   * How much earlier than ours another instance's clock may start the next nonce, in seconds (default
   * DEFAULTS.clockToleranceSeconds): a nonce of the slot about to begin is accepted that long before it does.
   */
  clockToleranceSeconds?: number;
  /** Clock, in Unix seconds; tests pass their own. */
  now?: () => number;
}

/**
 * Stateless server nonces for DPoP (RFC 9449 §8 at the token endpoint, §9 at a resource server): the
 * time is cut in slots of half the lifetime, and a slot's nonce is its number (8 bytes) followed by an
 * HMAC-SHA256 of it, truncated to 16 bytes, in base64url (within NQCHAR, §8.1). Nothing is stored, and
 * every instance sharing the secret agrees. A nonce is accepted during its own slot and the next, so
 * for at least half the lifetime after it was handed out and never longer than the lifetime (by the
 * clock of the instance that handed it out).
 */
export class DpopNonces {
  private readonly secret: Buffer;
  private readonly step: number;
  private readonly tolerance: number;
  private readonly now: () => number;

  constructor(options: DpopNonceOptions) {
    this.secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : Buffer.from(options.secret);
    if (this.secret.length < MIN_SECRET_BYTES) {
      throw new ConfigurationError('secret', `the DPoP nonce secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    const lifetime = options.lifetimeSeconds ?? DEFAULTS.dpop.nonceLifetimeSeconds;
    if (!Number.isFinite(lifetime) || lifetime < 2) throw new ConfigurationError('lifetimeSeconds', 'the DPoP nonce lifetime must be at least 2 seconds');
    this.step = Math.floor(lifetime / 2);
    this.tolerance = options.clockToleranceSeconds ?? DEFAULTS.clockToleranceSeconds;
    if (!Number.isFinite(this.tolerance) || this.tolerance < 0) {
      throw new ConfigurationError('clockToleranceSeconds', 'the clock tolerance must be 0 or more seconds');
    }
    this.now = options.now ?? (() => Date.now() / 1000);
  }

  /** The nonce to hand out now (the DPoP-Nonce header, RFC 9449 §8.1): the same on every instance with the same secret. */
  current(): string {
    const slot = this.slotAt(this.now());
    return Buffer.concat([slotBytes(slot), this.mac(slot)]).toString('base64url');
  }

  /** Whether a nonce presented in a proof is one handed out for the current or the previous slot (or the one about to begin). */
  accepts(nonce: string): boolean {
    if (typeof nonce !== 'string' || !NONCE.test(nonce)) return false;
    const bytes = Buffer.from(nonce, 'base64url');
    const slot = bytes.readBigUInt64BE(0);
    const now = this.now();
    const current = this.slotAt(now);
    // The next slot's nonce only from an instance whose clock is at most the tolerance ahead of ours.
    const last = this.slotAt(now + this.tolerance) > current ? current + 1 : current;
    if (slot < BigInt(current - 1) || slot > BigInt(last)) return false;
    return timingSafeEqual(bytes.subarray(SLOT_BYTES), this.mac(Number(slot)));
  }

  private slotAt(time: number): number {
    return Math.max(0, Math.floor(time / this.step));
  }

  private mac(slot: number): Buffer {
    return createHmac('sha256', this.secret).update(LABEL).update(slotBytes(slot)).digest().subarray(0, MAC_BYTES);
  }
}

function slotBytes(slot: number): Buffer {
  const bytes = Buffer.alloc(SLOT_BYTES);
  bytes.writeBigUInt64BE(BigInt(slot));
  return bytes;
}
