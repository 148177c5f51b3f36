/** The JWS core (lib/tokens/jws.ts): RFC 7515 compact JWS, RFC 7518 algorithms, with real keys and hand-made tokens. */
import { constants, createPublicKey, createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { verifyJws, type JwsAlgorithm, type JwsCheck, type JwsKey } from '../../lib/tokens';
import { b64json, signHs256, signJws, unsecuredJws } from '../support/jwt';
import { nowSeconds } from '../support/time';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: KeyObject): string => key.export({ format: 'pem', type: 'pkcs8' }).toString();

/** RFC 7518 §3.5: RSASSA-PSS with SHA-256, MGF1 SHA-256, a 32-byte salt. */
function signPs256(privateKey: KeyObject, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const signature = createSign('sha256').update(input).sign({ key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return `${input}.${signature.toString('base64url')}`;
}

const claims = (overrides: Record<string, unknown> = {}) => ({ sub: 'someone', exp: nowSeconds() + 60, ...overrides });
const rs256 = (header: Record<string, unknown> = {}, payload: Record<string, unknown> = claims()) =>
  signJws(pem(rsa.privateKey), 'RS256', { alg: 'RS256', kid: 'rsa', ...header }, payload);

/** Keys by kid, each with its one algorithm; every lookup recorded. */
function keyTable(keys: Record<string, JwsKey>) {
  const lookups: { kid: string | undefined; alg: JwsAlgorithm }[] = [];
  return {
    lookups,
    keyFor: (kid: string | undefined, alg: JwsAlgorithm) => {
      lookups.push({ kid, alg });
      return Promise.resolve(kid === undefined ? undefined : keys[kid]);
    },
  };
}

const table = () =>
  keyTable({
    rsa: { kid: 'rsa', alg: 'RS256', key: rsa.publicKey },
    pss: { kid: 'pss', alg: 'PS256', key: rsa.publicKey },
    ec: { kid: 'ec', alg: 'ES256', key: ec.publicKey },
  });

function check(overrides: Partial<JwsCheck<JwsKey>> = {}): JwsCheck<JwsKey> & { lookups: unknown[] } {
  const keys = table();
  return { algorithms: ['RS256', 'PS256', 'ES256'], maxLength: 4096, clockToleranceSeconds: 5, keyFor: keys.keyFor, lookups: keys.lookups, ...overrides };
}

const failureOf = async (token: string, c: JwsCheck<JwsKey> = check()) => {
  const result = await verifyJws(token, c);
  return result.ok ? 'accepted' : result.failure;
};

describe('verifyJws: accepted', () => {
  test('RFC 7518 §3.3, §3.4, §3.5: RS256, ES256 and PS256 verify with the key the caller picks; header, payload and key come back', async () => {
    const payload = claims({ custom: 'kept' });
    const rs = await verifyJws(rs256({}, payload), check());
    expect(rs).toEqual({ ok: true, header: { alg: 'RS256', kid: 'rsa' }, payload, key: expect.objectContaining({ kid: 'rsa', alg: 'RS256' }) });
    const es = signJws(pem(ec.privateKey), 'ES256', { alg: 'ES256', kid: 'ec' }, payload);
    expect(await failureOf(es)).toBe('accepted');
    expect(await failureOf(signPs256(rsa.privateKey, { alg: 'PS256', kid: 'pss' }, payload))).toBe('accepted');
  });

  test('RFC 7515 §4: the header is UTF-8 JSON: a kid with non-ASCII characters is looked up as written', async () => {
    const kid = 'clé-ключ-鍵';
    const c = check({ keyFor: (k, alg) => (k === kid ? { kid, alg, key: rsa.publicKey } : undefined) });
    expect(await failureOf(rs256({ kid }), c)).toBe('accepted');
    expect(await failureOf(rs256({ kid: 'cle-kljuch' }), c)).toBe('unknown_key');
  });

  test('a key that cannot be had (keyFor throws or rejects) passes through as the rejection, sync or not', async () => {
    const down = new Error('key source down');
    await expect(verifyJws(rs256(), check({ keyFor: () => Promise.reject(down) }))).rejects.toBe(down);
    await expect(
      verifyJws(
        rs256(),
        check({
          keyFor: () => {
            throw down;
          },
        }),
      ),
    ).rejects.toBe(down);
  });

  test('without requireKid a JWS naming no key is looked up with kid undefined', async () => {
    const lookups: unknown[] = [];
    const c = check({
      keyFor: (kid, alg) => {
        lookups.push({ kid, alg });
        return { alg, key: rsa.publicKey };
      },
    });
    expect(await failureOf(signJws(pem(rsa.privateKey), 'RS256', { alg: 'RS256' }, claims()), c)).toBe('accepted');
    expect(lookups).toEqual([{ kid: undefined, alg: 'RS256' }]);
  });

  test('the caller gets the header to pick a key from (a later DPoP check reads its jwk), and other claims are left to it', async () => {
    let seen: unknown;
    const c = check({
      keyFor: (_kid, alg, header) => {
        seen = header.custom;
        return { alg, key: rsa.publicKey };
      },
    });
    expect(await failureOf(rs256({ custom: 42 }, { iat: nowSeconds() + 9999, aud: 'anything' }), c)).toBe('accepted');
    expect(seen).toBe(42);
  });
});

describe('verifyJws: refused before any key lookup', () => {
  test('longer than maxLength: too_long, before anything is parsed', async () => {
    const c = check({ maxLength: 100 });
    expect(await failureOf(rs256(), c)).toBe('too_long');
    expect(c.lookups).toEqual([]);
  });

  test('not a compact JWS (RFC 7515 §7.1): not_jws', async () => {
    for (const token of ['', 'abc', 'a.b', 'a.b.c.d', `${b64json([1])}.e30.sig`, `${Buffer.from('{').toString('base64url')}.e30.sig`, 'a b.c.d']) {
      expect({ token, failure: await failureOf(token) }).toEqual({ token, failure: 'not_jws' });
    }
  });

  test('RFC 8725 §3.1: none, HMAC and algorithms outside the allow-list are unsupported_algorithm, whatever the caller allows', async () => {
    const c = check({ algorithms: ['RS256', 'HS256' as JwsAlgorithm, 'none' as JwsAlgorithm] });
    // An unsecured JWS has an empty third part: not even a compact JWS to us; with something there, still none.
    expect(await failureOf(unsecuredJws({ alg: 'none', kid: 'rsa' }, claims()), c)).toBe('not_jws');
    expect(await failureOf(`${unsecuredJws({ alg: 'none', kid: 'rsa' }, claims())}c2ln`, c)).toBe('unsupported_algorithm');
    const publicPem = rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(await failureOf(signHs256(publicPem, { alg: 'HS256', kid: 'rsa' }, claims()), c)).toBe('unsupported_algorithm');
    expect(await failureOf(rs256({ alg: 'RS512' }), c)).toBe('unsupported_algorithm');
    expect(await failureOf(rs256({ alg: ['RS256'] }), c)).toBe('unsupported_algorithm');
    expect(await failureOf(rs256({ alg: undefined }), c)).toBe('unsupported_algorithm');
    // PS256 is one of ours, but not in this caller's list.
    expect(await failureOf(signPs256(rsa.privateKey, { alg: 'PS256', kid: 'pss' }, claims()), c)).toBe('unsupported_algorithm');
    expect(c.lookups).toEqual([]);
  });

  test("RFC 7515 §4.1.9: typ is checked by the caller's predicate", async () => {
    const c = check({ typ: (typ) => typ === 'at+jwt' });
    expect(await failureOf(rs256({ typ: 'JWT' }), c)).toBe('wrong_type');
    expect(await failureOf(rs256(), c)).toBe('wrong_type');
    expect(c.lookups).toEqual([]);
    expect(await failureOf(rs256({ typ: 'at+jwt' }), c)).toBe('accepted');
  });

  test('RFC 7515 §4.1.11: any crit is unsupported_extension (we understand no extension)', async () => {
    const c = check();
    expect(await failureOf(rs256({ crit: ['exp'], exp: 1 }), c)).toBe('unsupported_extension');
    expect(await failureOf(rs256({ crit: [] }), c)).toBe('unsupported_extension');
    expect(c.lookups).toEqual([]);
  });

  test('RFC 7515 §4.1.4: a kid that is not a non-empty string, or none where one is required, is no_kid', async () => {
    const c = check({ requireKid: true });
    expect(await failureOf(signJws(pem(rsa.privateKey), 'RS256', { alg: 'RS256' }, claims()), c)).toBe('no_kid');
    expect(await failureOf(rs256({ kid: '' }), check())).toBe('no_kid');
    expect(await failureOf(rs256({ kid: 7 }), check())).toBe('no_kid');
    expect(await failureOf(rs256({ kid: null }), check())).toBe('no_kid');
    expect(c.lookups).toEqual([]);
  });
});

describe('verifyJws: the key', () => {
  test('a kid the caller has no key for is unknown_key', async () => {
    expect(await failureOf(rs256({ kid: 'nobody' }))).toBe('unknown_key');
  });

  test("RFC 8725 §3.1: the key's algorithm must be the header's: no substitution (an RS256 key is not used for PS256, nor for ES256)", async () => {
    expect(await failureOf(signPs256(rsa.privateKey, { alg: 'PS256', kid: 'rsa' }, claims()))).toBe('unknown_key');
    expect(await failureOf(signJws(pem(ec.privateKey), 'ES256', { alg: 'ES256', kid: 'rsa' }, claims()))).toBe('unknown_key');
    expect(await failureOf(rs256({ kid: 'pss' }))).toBe('unknown_key');
  });

  test('a key of the wrong type for its algorithm (an EC key said to be RS256) is refused by jsonwebtoken: malformed', async () => {
    const c = check({ keyFor: () => ({ kid: 'rsa', alg: 'RS256', key: ec.publicKey }) });
    expect(await failureOf(rs256(), c)).toBe('malformed');
  });

  test('a signature by another key is bad_signature; so is a tampered payload', async () => {
    expect(await failureOf(signJws(pem(other.privateKey), 'RS256', { alg: 'RS256', kid: 'rsa' }, claims()))).toBe('bad_signature');
    const [h, , s] = rs256().split('.');
    expect(await failureOf(`${h}.${b64json(claims({ sub: 'someone-else' }))}.${s}`)).toBe('bad_signature');
  });

  test("the caller's keyFor failing (its keys cannot be had) passes through as thrown", async () => {
    const failure = new Error('key server down');
    await expect(verifyJws(rs256(), check({ keyFor: () => Promise.reject(failure) }))).rejects.toBe(failure);
  });

  test('header members naming keys (jku, x5u, jwk) are never used: only keyFor picks the key', async () => {
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const header = { alg: 'RS256', kid: 'rsa', jku: 'https://attacker.test/jwks', jwk: attacker.publicKey.export({ format: 'jwk' }) };
    expect(await failureOf(signJws(pem(attacker.privateKey), 'RS256', header, claims()))).toBe('bad_signature');
  });
});

describe('verifyJws: exp, nbf and the claims set', () => {
  test('RFC 7519 §4.1.4: expired (beyond the tolerance) is expired; within it, accepted', async () => {
    const now = nowSeconds();
    expect(await failureOf(rs256({}, claims({ exp: now - 10 })))).toBe('expired');
    expect(await failureOf(rs256({}, claims({ exp: now - 2 })))).toBe('accepted');
  });

  test('RFC 7519 §4.1.5: nbf not reached (beyond the tolerance) is not_yet_valid', async () => {
    const now = nowSeconds();
    expect(await failureOf(rs256({}, claims({ nbf: now + 60 })))).toBe('not_yet_valid');
    expect(await failureOf(rs256({}, claims({ nbf: now + 2 })))).toBe('accepted');
  });

  test('`now` replaces the clock', async () => {
    const token = rs256({}, { exp: 2_000_000_000, nbf: 1_999_999_000 });
    expect(await failureOf(token, check({ now: 1_999_999_500 }))).toBe('accepted');
    expect(await failureOf(token, check({ now: 2_000_000_100 }))).toBe('expired');
    expect(await failureOf(token, check({ now: 1_999_998_000 }))).toBe('not_yet_valid');
  });

  test('a non-numeric exp or nbf is malformed; a payload that is not a JSON object is no_claims', async () => {
    expect(await failureOf(rs256({}, claims({ exp: 'tomorrow' })))).toBe('malformed');
    expect(await failureOf(rs256({}, claims({ nbf: 'now' })))).toBe('malformed');
    const sign = (payload: string) => {
      const input = `${b64json({ alg: 'RS256', kid: 'rsa' })}.${Buffer.from(payload).toString('base64url')}`;
      return `${input}.${createSign('sha256').update(input).sign(rsa.privateKey).toString('base64url')}`;
    };
    expect(await failureOf(sign('"just a string"'))).toBe('no_claims');
    expect(await failureOf(sign('[1,2]'))).toBe('no_claims');
    expect(await failureOf(sign('not json'))).toBe('no_claims');
  });

  test('a public key imported from a JWK verifies as well as one from PEM', async () => {
    const fromJwk = createPublicKey({ key: rsa.publicKey.export({ format: 'jwk' }), format: 'jwk' });
    expect(await failureOf(rs256(), check({ keyFor: () => ({ kid: 'rsa', alg: 'RS256', key: fromJwk }) }))).toBe('accepted');
  });
});
