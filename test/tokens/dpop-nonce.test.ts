/** Stateless DPoP server nonces (RFC 9449 §8 at the token endpoint, §9 at a resource server), with an injected clock. */
import { randomBytes } from 'node:crypto';
import { DEFAULTS } from '../../lib/defaults';
import { ConfigurationError } from '../../lib/errors';
import { DpopNonces } from '../../lib/tokens';

const SECRET = randomBytes(32);
const T0 = 1_900_000_000;
const LIFETIME = DEFAULTS.dpop.nonceLifetimeSeconds;

/** A clock the test moves. */
function clock(start = T0) {
  let now = start;
  return { now: () => now, set: (t: number) => (now = t), advance: (s: number) => (now += s) };
}

describe('DpopNonces', () => {
  test('RFC 9449 §8.1: a nonce is NQCHAR (base64url, 32 characters) and is accepted where it was handed out', () => {
    const nonces = new DpopNonces({ secret: SECRET, now: () => T0 });
    const nonce = nonces.current();
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(nonces.accepts(nonce)).toBe(true);
  });

  test('two instances with the same secret hand out the same nonce and accept each other’s; the secret may be a string', () => {
    const a = new DpopNonces({ secret: 'a shared secret of enough bytes', now: () => T0 });
    const b = new DpopNonces({ secret: Buffer.from('a shared secret of enough bytes'), now: () => T0 + 1 });
    expect(a.current()).toBe(b.current());
    expect(b.accepts(a.current())).toBe(true);
    expect(a.accepts(b.current())).toBe(true);
  });

  test('instances with different secrets do not accept each other’s nonces', () => {
    const a = new DpopNonces({ secret: randomBytes(32), now: () => T0 });
    const b = new DpopNonces({ secret: randomBytes(32), now: () => T0 });
    expect(a.current()).not.toBe(b.current());
    expect(b.accepts(a.current())).toBe(false);
    expect(a.accepts(b.current())).toBe(false);
  });

  test('the nonce changes every half lifetime; one is accepted at least half the lifetime and refused after the lifetime', () => {
    const step = LIFETIME / 2;
    const time = clock(Math.ceil(T0 / step) * step); // the start of a slot
    const nonces = new DpopNonces({ secret: SECRET, now: time.now });
    const first = nonces.current();
    time.advance(step - 1);
    expect(nonces.current()).toBe(first);
    time.advance(1);
    const second = nonces.current();
    expect(second).not.toBe(first);
    // Handed out at the end of its slot, a nonce still lives half the lifetime.
    time.advance(step - 1);
    expect(nonces.accepts(first)).toBe(true);
    expect(nonces.accepts(second)).toBe(true);
    time.advance(1);
    expect(nonces.accepts(first)).toBe(false);
    expect(nonces.accepts(second)).toBe(true);
    // Never beyond the lifetime after it was first handed out.
    time.set(time.now() + LIFETIME);
    expect(nonces.accepts(second)).toBe(false);
  });

  test('an old nonce expires after the lifetime, whatever instant in its slot it was handed out', () => {
    const time = clock();
    const nonces = new DpopNonces({ secret: SECRET, lifetimeSeconds: 60, now: time.now });
    for (let offset = 0; offset < 60; offset += 7) {
      time.set(T0 + offset);
      const nonce = nonces.current();
      time.advance(29);
      expect(nonces.accepts(nonce)).toBe(true);
      time.advance(32);
      expect(nonces.accepts(nonce)).toBe(false);
    }
  });

  test('the next slot’s nonce, from an instance whose clock runs ahead by at most the clock tolerance, is accepted', () => {
    const step = LIFETIME / 2;
    const boundary = Math.ceil(T0 / step) * step;
    const ahead = new DpopNonces({ secret: SECRET, now: () => boundary });
    const behindBy = (seconds: number) => new DpopNonces({ secret: SECRET, now: () => boundary - seconds });
    expect(behindBy(DEFAULTS.clockToleranceSeconds).accepts(ahead.current())).toBe(true);
    expect(behindBy(DEFAULTS.clockToleranceSeconds + 1).accepts(ahead.current())).toBe(false);
    const strict = new DpopNonces({ secret: SECRET, clockToleranceSeconds: 0, now: () => boundary - 1 });
    expect(strict.accepts(ahead.current())).toBe(false);
  });

  test('garbage is refused: wrong length, non-base64url, a forged slot, a flipped MAC bit, another type', () => {
    const nonces = new DpopNonces({ secret: SECRET, now: () => T0 });
    const nonce = nonces.current();
    const bytes = Buffer.from(nonce, 'base64url');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1] ^= 1;
    const otherSlot = Buffer.from(bytes);
    otherSlot[7] ^= 1;
    for (const bad of ['', 'x', nonce.slice(1), `${nonce}A`, `${nonce.slice(0, 31)}=`, `${nonce.slice(0, 31)}+`, 'A'.repeat(32), '_'.repeat(32)]) {
      expect(nonces.accepts(bad)).toBe(false);
    }
    expect(nonces.accepts(flipped.toString('base64url'))).toBe(false);
    expect(nonces.accepts(otherSlot.toString('base64url'))).toBe(false);
    expect(nonces.accepts(undefined as unknown as string)).toBe(false);
    expect(nonces.accepts(12 as unknown as string)).toBe(false);
  });

  test('a secret under 16 bytes, or a lifetime under 2 seconds, is a ConfigurationError', () => {
    expect(() => new DpopNonces({ secret: 'short' })).toThrow(ConfigurationError);
    expect(() => new DpopNonces({ secret: Buffer.alloc(0) })).toThrow(ConfigurationError);
    expect(() => new DpopNonces({ secret: SECRET, lifetimeSeconds: 1 })).toThrow(ConfigurationError);
    expect(() => new DpopNonces({ secret: SECRET, lifetimeSeconds: Number.NaN })).toThrow(ConfigurationError);
  });

  test('without an injected clock, the nonce is the wall clock’s and is accepted', () => {
    const nonces = new DpopNonces({ secret: SECRET });
    expect(nonces.accepts(nonces.current())).toBe(true);
  });
});
