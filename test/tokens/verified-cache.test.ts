import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TokenRejected } from '../../lib';
import { AccessTokenVerifier, VerifiedTokenCache, type AccessTokenClaims, type VerificationKeys } from '../../lib/tokens';
import { ISSUER } from '../support/constants';
import { claimsFor, signJws } from '../support/jwt';

const claims = (jti: string, exp = 2_000_000_000): AccessTokenClaims => ({ iss: 'i', sub: 'c', aud: 'a', exp, iat: exp - 60, jti, client_id: 'c', scope: 's' });

/** Per-entry cost in the cache's accounting: 2 bytes per character plus a fixed overhead. */
const OVERHEAD = 600;
const cost = (token: string) => token.length * 2 + OVERHEAD;

describe('VerifiedTokenCache', () => {
  test('returns what was set until `until`, and never at or after it', () => {
    const cache = new VerifiedTokenCache();
    const c = claims('j1');
    cache.set('tok', c, 1000);
    expect(cache.get('tok', 999.999)).toBe(c);
    expect(cache.get('tok', 1000)).toBeUndefined();
    // The stale entry is dropped, not kept around.
    expect(cache.size).toBe(0);
    expect(cache.byteSize).toBe(0);
    expect(cache.get('tok', 0)).toBeUndefined();
  });

  test('an entry set already past its `until` is never returned', () => {
    const cache = new VerifiedTokenCache();
    cache.set('tok', claims('j'), 100);
    expect(cache.get('tok', 100)).toBeUndefined();
    expect(cache.get('tok', 200)).toBeUndefined();
  });

  test('unknown tokens miss', () => {
    const cache = new VerifiedTokenCache();
    cache.set('a', claims('a'), 1e12);
    expect(cache.get('b', 0)).toBeUndefined();
  });

  test('bounded by entries: the oldest entry is evicted first', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 3 });
    for (const t of ['t1', 't2', 't3', 't4']) cache.set(t, claims(t), 1e12);
    expect(cache.size).toBe(3);
    expect(cache.get('t1', 0)).toBeUndefined();
    expect(cache.get('t2', 0)?.jti).toBe('t2');
    expect(cache.get('t4', 0)?.jti).toBe('t4');
  });

  test('bounded by bytes: entries are evicted until the new one fits', () => {
    const token = (i: number) => `${i}`.padStart(100, 'x');
    const maxBytes = cost(token(0)) * 3 + 10; // room for three entries
    const cache = new VerifiedTokenCache({ maxBytes, maxEntries: 1000 });
    for (let i = 0; i < 10; i++) {
      cache.set(token(i), claims(String(i)), 1e12);
      expect(cache.byteSize).toBeLessThanOrEqual(maxBytes);
    }
    expect(cache.size).toBe(3);
    expect(cache.byteSize).toBe(cost(token(0)) * 3);
    expect(cache.get(token(6), 0)).toBeUndefined();
    expect(cache.get(token(9), 0)?.jti).toBe('9');
  });

  test('a single token larger than maxBytes is not cached, and evicts nothing', () => {
    const cache = new VerifiedTokenCache({ maxBytes: 2000 });
    cache.set('small', claims('s'), 1e12);
    cache.set('y'.repeat(5000), claims('big'), 1e12);
    expect(cache.get('y'.repeat(5000), 0)).toBeUndefined();
    expect(cache.get('small', 0)?.jti).toBe('s');
    expect(cache.byteSize).toBe(cost('small'));
  });

  test('setting the same token again replaces it without double-counting bytes', () => {
    const cache = new VerifiedTokenCache();
    cache.set('tok', claims('a'), 10);
    cache.set('tok', claims('b'), 20);
    expect(cache.size).toBe(1);
    expect(cache.byteSize).toBe(cost('tok'));
    expect(cache.get('tok', 15)?.jti).toBe('b');
  });

  test('maxEntries 0 disables the cache', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 0 });
    cache.set('tok', claims('a'), 1e12);
    expect(cache.get('tok', 0)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  test('a negative maxEntries disables the cache instead of looping forever', () => {
    const cache = new VerifiedTokenCache({ maxEntries: -1 });
    cache.set('tok', claims('a'), 1e12);
    expect(cache.get('tok', 0)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  test('a token sharing the tail of a cached token (the map key) is a miss, and neither replaces nor forgets it', () => {
    const cache = new VerifiedTokenCache();
    const tail = 'T'.repeat(40);
    const a = `aaaa.bbbb.${tail}`;
    const forged = `xxxx.yyyy.${tail}`;
    cache.set(a, claims('a'), 1e12);
    expect(cache.get(forged, 0)).toBeUndefined();
    cache.forget(forged);
    expect(cache.get(a, 0)?.jti).toBe('a');
    expect(cache.size).toBe(1);
  });

  test('lookup gives the split scope with the claims, parsed once', () => {
    const cache = new VerifiedTokenCache();
    cache.set('tok', { ...claims('a'), scope: 'x y' }, 1e12, 'k1');
    const hit = cache.lookup('tok', 0);
    expect(hit?.scopes).toEqual(['x', 'y']);
    expect(hit?.kid).toBe('k1');
    expect(cache.lookup('tok', 0)?.scopes).toBe(hit?.scopes);
    cache.set('empty', { ...claims('b'), scope: '' }, 1e12);
    expect(cache.lookup('empty', 0)?.scopes).toEqual([]);
  });

  test('clear empties it', () => {
    const cache = new VerifiedTokenCache();
    cache.set('a', claims('a'), 1e12);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.byteSize).toBe(0);
    expect(cache.get('a', 0)).toBeUndefined();
  });
});

describe('AccessTokenVerifier and its cache', () => {
  let privatePem: string;
  let publicKey: KeyObject;
  let keys: VerificationKeys & { calls: number };
  beforeAll(() => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    privatePem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    publicKey = pair.publicKey;
    keys = {
      calls: 0,
      async keyFor(kid: string) {
        this.calls++;
        return kid === 'k1' ? { kid, alg: 'RS256' as const, key: publicKey } : undefined;
      },
    };
  });
  afterEach(() => jest.restoreAllMocks());

  const token = (overrides: Record<string, unknown>) => signJws(privatePem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: 'k1' }, claimsFor('c', overrides));

  test('RFC 6750 §3.1: a repeat sight is served from the cache (no signature check; only the key is looked up again)', async () => {
    const verifier = new AccessTokenVerifier(keys, { issuer: ISSUER, audience: ISSUER });
    const t = token({});
    keys.calls = 0;
    await verifier.verify(t);
    const verify = jest.spyOn(jwt, 'verify');
    await verifier.verify(t);
    expect(verify).not.toHaveBeenCalled();
    expect(keys.calls).toBe(2);
    expect(verifier.cacheSize).toBe(1);
  });

  test('known(): a cached token whose key the source vouches for synchronously, without counting; anything else is undefined', async () => {
    const lookups: boolean[] = [];
    const cacheTelemetry = { lookup: (hit: boolean) => void lookups.push(hit) };
    let published = true;
    const sync: VerificationKeys = {
      keyFor: (kid) => Promise.resolve(kid === 'k1' ? { kid, alg: 'RS256' as const, key: publicKey } : undefined),
      knownKey: (kid) => (published && kid === 'k1' ? { kid, alg: 'RS256' as const, key: publicKey } : undefined),
    };
    const verifier = new AccessTokenVerifier(sync, { issuer: ISSUER, audience: ISSUER, cacheTelemetry });
    const t = token({});
    expect(verifier.known(t)).toBeUndefined();
    await verifier.verify(t);
    expect(lookups).toEqual([false]);
    expect(verifier.known(t)?.claims.jti).toBe((await verifier.verify(t)).jti);
    expect(lookups).toEqual([false, true]); // verify() counted; known() did not
    published = false; // the source cannot vouch for it synchronously: ask keyFor
    expect(verifier.known(t)).toBeUndefined();
    const withoutSync = new AccessTokenVerifier(keys, { issuer: ISSUER, audience: ISSUER });
    await withoutSync.verify(t);
    expect(withoutSync.known(t)).toBeUndefined();
  });

  test('a cached token whose key is no longer published (revoked) is refused at once and dropped from the cache', async () => {
    let published = true;
    const revocable: VerificationKeys = {
      keyFor: (kid) => Promise.resolve(published && kid === 'k1' ? { kid, alg: 'RS256' as const, key: publicKey } : undefined),
    };
    const verifier = new AccessTokenVerifier(revocable, { issuer: ISSUER, audience: ISSUER });
    const t = token({});
    await verifier.verify(t);
    expect(verifier.cacheSize).toBe(1);
    published = false;
    await expect(verifier.verify(t)).rejects.toMatchObject({ reason: 'unknown_key' });
    expect(verifier.cacheSize).toBe(0);
  });

  test('RFC 7519 §4.1.4: a cached token is rejected once past exp + tolerance', async () => {
    const realNow = Date.now();
    const exp = Math.floor(realNow / 1000) + 60;
    const verifier = new AccessTokenVerifier(keys, { issuer: ISSUER, audience: ISSUER, clockToleranceSeconds: 5 });
    const t = token({ exp, iat: exp - 120 });
    await expect(verifier.verify(t)).resolves.toMatchObject({ exp });
    // Still fine within the tolerance...
    jest.spyOn(Date, 'now').mockReturnValue((exp + 4) * 1000);
    await expect(verifier.verify(t)).resolves.toMatchObject({ exp });
    // ...and never past it, although the token is in the cache.
    jest.spyOn(Date, 'now').mockReturnValue((exp + 5) * 1000);
    await expect(verifier.verify(t)).rejects.toBeInstanceOf(TokenRejected);
    await expect(verifier.verify(t)).rejects.toThrow('The access token expired.');
  });

  test('a rejected token is never cached', async () => {
    const verifier = new AccessTokenVerifier(keys, { issuer: ISSUER, audience: ISSUER });
    await expect(verifier.verify(token({ iss: 'https://other.test' }))).rejects.toBeInstanceOf(TokenRejected);
    expect(verifier.cacheSize).toBe(0);
  });

  test('the verifier cache honours maxEntries', async () => {
    const verifier = new AccessTokenVerifier(keys, { issuer: ISSUER, audience: ISSUER, cache: { maxEntries: 2 } });
    for (let i = 0; i < 5; i++) await verifier.verify(token({ jti: `j${i}` }));
    expect(verifier.cacheSize).toBe(2);
  });

  test('RFC 8725 §3.1: the verifier refuses to be configured with an algorithm it does not support', () => {
    expect(() => new AccessTokenVerifier(keys, { issuer: ISSUER, audience: ISSUER, algorithms: ['HS256' as never] })).toThrow(/unsupported/);
    expect(() => new AccessTokenVerifier(keys, { issuer: ISSUER, audience: [] })).toThrow(/audience/);
  });
});
