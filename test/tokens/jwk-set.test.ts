/** Client JWK Sets (RFC 7517 §4, §5; RFC 7518 §6) for private_key_jwt: registration checks, and key selection. */
import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { parseClientJwks, readFetchedJwks, StaticKeySet, type ClientJwks } from '../../lib/tokens';

const rsaPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ecPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaPublic = rsaPair.publicKey.export({ format: 'jwk' });
const ecPublic = ecPair.publicKey.export({ format: 'jwk' });
const rsa = (members: Record<string, unknown> = {}) => ({ ...rsaPublic, kid: 'rsa-1', ...members });
const ec = (members: Record<string, unknown> = {}) => ({ ...ecPublic, kid: 'ec-1', ...members });

const errorOf = (document: unknown): string => {
  const parsed = parseClientJwks(document);
  return parsed.ok ? 'accepted' : parsed.error;
};

describe('parseClientJwks: accepted sets', () => {
  test('RFC 7517 §5: RSA and EC P-256 public keys, with or without use "sig" and a matching alg', () => {
    const parsed = parseClientJwks({ keys: [rsa({ use: 'sig', alg: 'PS256' }), ec({ alg: 'ES256' }), rsa({ kid: 'rsa-2' })] });
    expect(parsed).toEqual({
      ok: true,
      jwks: {
        keys: [
          { kty: 'RSA', kid: 'rsa-1', use: 'sig', alg: 'PS256', n: rsaPublic.n, e: rsaPublic.e },
          { kty: 'EC', kid: 'ec-1', alg: 'ES256', crv: 'P-256', x: ecPublic.x, y: ecPublic.y },
          { kty: 'RSA', kid: 'rsa-2', n: rsaPublic.n, e: rsaPublic.e },
        ],
      },
    });
  });

  test('the set kept is rebuilt member by member: other members (x5c, key_ops, anything) are not kept', () => {
    const parsed = parseClientJwks({ keys: [rsa({ x5c: ['MIIB...'], key_ops: ['verify'], ext: true, note: 'hello' })], extra: 'ignored' });
    expect(parsed.ok && parsed.jwks).toEqual({ keys: [{ kty: 'RSA', kid: 'rsa-1', n: rsaPublic.n, e: rsaPublic.e }] });
  });

  test('an RSA key of 4096 bits is accepted', () => {
    const big = generateKeyPairSync('rsa', { modulusLength: 4096 }).publicKey.export({ format: 'jwk' });
    expect(errorOf({ keys: [{ ...big, kid: 'big' }] })).toBe('accepted');
  });
});

describe('parseClientJwks: private keys are refused, naming the key', () => {
  test('RFC 7518 §6.3.2: an RSA private JWK is refused with a clear error', () => {
    const privateJwk = rsaPair.privateKey.export({ format: 'jwk' });
    expect(errorOf({ keys: [{ ...privateJwk, kid: 'k1' }] })).toBe('key "k1" contains private key members (d, p, q, dp, dq, qi): register the public key only');
  });

  test('RFC 7518 §6.2.2: an EC private JWK is refused; so is any one private member alone, and oth', () => {
    const privateJwk = ecPair.privateKey.export({ format: 'jwk' });
    expect(errorOf({ keys: [ec(), { ...privateJwk, kid: 'k2' }] })).toBe('key "k2" contains private key members (d): register the public key only');
    expect(errorOf({ keys: [rsa({ qi: 'AQAB' })] })).toBe('key "rsa-1" contains private key members (qi): register the public key only');
    expect(errorOf({ keys: [rsa({ oth: [] })] })).toBe('key "rsa-1" contains private key members (oth): register the public key only');
  });

  test('RFC 7518 §6.4: a symmetric key (kty oct, member k) is refused', () => {
    expect(errorOf({ keys: [{ kty: 'oct', kid: 'shared', k: 'c2VjcmV0' }] })).toBe(
      'key "shared" is a symmetric key (kty "oct"): register an RSA or EC public key',
    );
    expect(errorOf({ keys: [rsa({ k: 'c2VjcmV0' })] })).toBe('key "rsa-1" contains private key members (k): register the public key only');
  });

  test('a key without a usable kid is named by its place', () => {
    const privateJwk = ecPair.privateKey.export({ format: 'jwk' });
    expect(errorOf({ keys: [ec(), privateJwk] })).toBe('keys[1] contains private key members (d): register the public key only');
  });
});

describe('parseClientJwks: other refusals', () => {
  test.each([
    ['not an object', 'keys', 'a JWK Set is a JSON object with a "keys" array'],
    ['an array', [rsa()], 'a JWK Set is a JSON object with a "keys" array'],
    ['no keys array', { keys: rsa() }, 'a JWK Set is a JSON object with a "keys" array'],
    ['no keys at all', { keys: [] }, 'the JWK Set has no keys'],
    ['more than 20 keys', { keys: Array.from({ length: 21 }, (_, i) => rsa({ kid: `k${i}` })) }, "a client's JWK Set holds at most 20 keys"],
    ['a key that is not an object', { keys: ['rsa'] }, 'keys[0] is not a JSON object'],
    ['no kid', { keys: [{ ...rsaPublic }] }, 'keys[0] needs a "kid" of 1 to 128 characters'],
    ['an empty kid', { keys: [rsa({ kid: '' })] }, 'keys[0] needs a "kid" of 1 to 128 characters'],
    ['a kid of 129 characters', { keys: [rsa({ kid: 'x'.repeat(129) })] }, 'keys[0] needs a "kid" of 1 to 128 characters'],
    ['a numeric kid', { keys: [rsa({ kid: 5 })] }, 'keys[0] needs a "kid" of 1 to 128 characters'],
    ['duplicate kids (RFC 7517 §4.5)', { keys: [rsa({ kid: 'same' }), ec({ kid: 'same' })] }, 'kid "same" is used by more than one key'],
    ['an OKP key', { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', kid: 'ed' }] }, 'key "ed" has kty "OKP": only RSA and EC keys are accepted'],
    ['use enc (RFC 7517 §4.2)', { keys: [rsa({ use: 'enc' })] }, 'key "rsa-1" has use "enc": client keys are for signatures ("sig")'],
    ['alg ES256 on an RSA key', { keys: [rsa({ alg: 'ES256' })] }, 'key "rsa-1" has alg "ES256": an RSA key signs with RS256 or PS256'],
    ['alg RS512', { keys: [rsa({ alg: 'RS512' })] }, 'key "rsa-1" has alg "RS512": an RSA key signs with RS256 or PS256'],
    ['alg RS256 on an EC key', { keys: [ec({ alg: 'RS256' })] }, 'key "ec-1" has alg "RS256": an EC key signs with ES256'],
    ['alg HS256', { keys: [rsa({ alg: 'HS256' })] }, 'key "rsa-1" has alg "HS256": an RSA key signs with RS256 or PS256'],
  ])('%s', (_what, document, error) => {
    expect(errorOf(document)).toBe(error);
  });

  test('RFC 7518 §3.3: an RSA key under 2048 bits is refused', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    expect(errorOf({ keys: [{ ...small, kid: 'small' }] })).toBe('key "small" is a 1024-bit RSA key: 2048 to 8192 bits are accepted');
  });

  test('only P-256: P-384 and secp256k1 keys are refused', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    expect(errorOf({ keys: [{ ...p384, kid: 'p384' }] })).toBe('key "p384" is on curve "P-384": only P-256 is accepted');
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'jwk' });
    expect(errorOf({ keys: [{ ...k1, kid: 'k1' }] })).toBe('key "k1" is on curve "secp256k1": only P-256 is accepted');
  });

  test('a key node:crypto cannot import (a point off the curve, a missing modulus) is refused', () => {
    const zero = Buffer.alloc(32).toString('base64url');
    expect(errorOf({ keys: [ec({ x: zero, y: zero })] })).toBe('key "ec-1" is not a valid EC public key');
    expect(errorOf({ keys: [rsa({ n: undefined })] })).toBe('key "rsa-1" is not a valid RSA public key');
  });

  test('RSA with a huge public exponent is refused', () => {
    expect(errorOf({ keys: [rsa({ e: Buffer.from('0100000001', 'hex').toString('base64url') })] })).toBe(
      'key "rsa-1" has an unusually large RSA public exponent',
    );
  });

  test('a set larger than 64 KiB as JSON, or not JSON at all, is refused', () => {
    expect(errorOf({ keys: [rsa()], padding: 'x'.repeat(64 * 1024) })).toBe('the JWK Set is larger than 65536 bytes');
    const cyclic: Record<string, unknown> = { keys: [] };
    cyclic.self = cyclic;
    expect(errorOf(cyclic)).toBe('the JWK Set is not JSON');
    expect(errorOf(undefined)).toBe('the JWK Set is not JSON');
  });
});

describe('readFetchedJwks: a set fetched from a jwks_uri', () => {
  test('a key failing the checks is skipped, as is a second key with a kid already seen; the others are kept', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const read = readFetchedJwks({
      keys: [{ ...small, kid: 'small' }, { kty: 'OKP', kid: 'ed' }, ec({ use: 'enc' }), rsa(), rsa(), 'junk', ec({ kid: 'ec-2' })],
    });
    expect(read.ok && read.jwks.keys.map((k) => k.kid)).toEqual(['rsa-1', 'ec-2']);
  });

  test('a private key member anywhere refuses the whole set', () => {
    const privateJwk = ecPair.privateKey.export({ format: 'jwk' });
    expect(readFetchedJwks({ keys: [rsa(), { ...privateJwk, kid: 'leak' }] })).toEqual({
      ok: false,
      privateMembers: true,
      error: 'key "leak" contains private key members (d): register the public key only',
    });
    expect(readFetchedJwks({ keys: [{ kty: 'oct', kid: 's', k: 'AAAA' }] })).toMatchObject({ ok: false, privateMembers: true });
  });

  test('an empty set is a set (the client withdrew its keys); no keys array is not', () => {
    expect(readFetchedJwks({ keys: [] })).toEqual({ ok: true, jwks: { keys: [] } });
    expect(readFetchedJwks({ nokeys: true })).toMatchObject({ ok: false, privateMembers: false });
  });
});

describe('StaticKeySet: which key an assertion header selects', () => {
  const parsed = (keys: unknown[]): ClientJwks => {
    const result = parseClientJwks({ keys });
    if (!result.ok) throw new Error(result.error);
    return result.jwks;
  };

  test('by kid: an RSA key without alg serves RS256 and PS256, not ES256; an EC key ES256 only', async () => {
    const set = new StaticKeySet(parsed([rsa(), ec()]));
    expect(set.size).toBe(2);
    expect(await set.keyFor('rsa-1', 'RS256')).toEqual({ kid: 'rsa-1', alg: 'RS256', key: expect.anything() });
    expect((await set.keyFor('rsa-1', 'PS256'))?.alg).toBe('PS256');
    expect(await set.keyFor('rsa-1', 'ES256')).toBeUndefined();
    expect((await set.keyFor('ec-1', 'ES256'))?.key.asymmetricKeyType).toBe('ec');
    expect(await set.keyFor('ec-1', 'RS256')).toBeUndefined();
    expect(await set.keyFor('nobody', 'RS256')).toBeUndefined();
  });

  test("a key's alg restricts it: an RS256 key is not used for PS256", async () => {
    const set = new StaticKeySet(parsed([rsa({ alg: 'RS256' })]));
    expect(await set.keyFor('rsa-1', 'RS256')).toBeDefined();
    expect(await set.keyFor('rsa-1', 'PS256')).toBeUndefined();
  });

  test('RFC 7515 §4.1.4: without a kid, the one key usable for the algorithm if there is exactly one', async () => {
    const set = new StaticKeySet(parsed([rsa(), ec()]));
    expect((await set.keyFor(undefined, 'RS256'))?.kid).toBe('rsa-1');
    expect((await set.keyFor(undefined, 'ES256'))?.kid).toBe('ec-1');
    const two = new StaticKeySet(parsed([rsa(), rsa({ kid: 'rsa-2', alg: 'PS256' })]));
    expect(await two.keyFor(undefined, 'PS256')).toBeUndefined();
    expect((await two.keyFor(undefined, 'RS256'))?.kid).toBe('rsa-1');
  });

  test('a stored set is read for its public members only; a key that no longer imports is left out', () => {
    const privateJwk: JsonWebKey = ecPair.privateKey.export({ format: 'jwk' });
    const altered = {
      keys: [
        { ...privateJwk, kid: 'stored' },
        { kty: 'EC', kid: 'broken', crv: 'P-256', x: 'AA', y: 'AA' },
      ],
    } as unknown as ClientJwks;
    const set = new StaticKeySet(altered);
    expect(set.size).toBe(1);
    expect(set.find('stored', 'ES256')?.key.type).toBe('public');
  });
});
