/**
 * DPoP proofs (RFC 9449 §4.2, §4.3): proofs made by hand with node:crypto, each wrong one way, and a
 * few made by jose (an independent implementation, run as a script: it is ESM-only), checked by
 * verifyDpopProof as the token endpoint and a resource server check them.
 */
import { execFile } from 'node:child_process';
import { constants, createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { DEFAULTS } from '../../lib/defaults';
import { DpopProofRejected, type DpopRejectionReason } from '../../lib/errors';
import {
  accessTokenHash,
  DPOP_ALGORITHMS,
  DpopNonces,
  htuOf,
  jwkThumbprint,
  readPublicJwk,
  verifyDpopProof,
  type DpopProofCheck,
  type JwsAlgorithm,
} from '../../lib/tokens';
import { b64json, signHs256, unsecuredJws } from '../support/jwt';

const TOKEN_URL = 'https://issuer.example/oauth/token';
const RESOURCE_URL = 'https://api.example/orders';
/** Every proof is made and checked at this instant, so no test depends on the clock. */
const NOW = 1_900_000_000;

type KeyPair = { publicKey: KeyObject; privateKey: KeyObject };
const ec: KeyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa: KeyPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherEc: KeyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const publicJwk = (pair: KeyPair) => pair.publicKey.export({ format: 'jwk' });
const privateJwk = (pair: KeyPair) => pair.privateKey.export({ format: 'jwk' });
const pairOf: Record<JwsAlgorithm, KeyPair> = { ES256: ec, RS256: rsa, PS256: rsa };

/** A compact JWS signed by node:crypto as RFC 7518 §3.3 (RS256), §3.4 (ES256, raw r||s) and §3.5 (PS256, 32-byte salt) say. */
function signJws(alg: JwsAlgorithm, privateKey: KeyObject, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const options =
    alg === 'ES256'
      ? { key: privateKey, dsaEncoding: 'ieee-p1363' as const }
      : alg === 'PS256'
        ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
        : { key: privateKey };
  return `${input}.${sign('sha256', Buffer.from(input), options).toString('base64url')}`;
}

/** Header and claims overrides: a value replaces the member, undefined removes it. */
const merged = (base: Record<string, unknown>, overrides: Record<string, unknown>) =>
  Object.fromEntries(Object.entries({ ...base, ...overrides }).filter(([, v]) => v !== undefined));

/** RFC 9449 §4.2 claims of a valid proof for POST TOKEN_URL at NOW. */
const claims = (overrides: Record<string, unknown> = {}) =>
  merged({ jti: randomBytes(12).toString('base64url'), htm: 'POST', htu: TOKEN_URL, iat: NOW }, overrides);

interface ProofOptions {
  alg?: JwsAlgorithm;
  /** The key in the jwk header, and (unless signer) the one that signs. */
  pair?: KeyPair;
  signer?: KeyObject;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
}

/** A DPoP proof (RFC 9449 §4.2) made by hand: typ dpop+jwt, the alg, the public key as jwk. */
function proof(options: ProofOptions = {}): string {
  const alg = options.alg ?? 'ES256';
  const pair = options.pair ?? pairOf[alg];
  const header = merged({ typ: 'dpop+jwt', alg, jwk: publicJwk(pair) }, options.header ?? {});
  return signJws(alg, options.signer ?? pair.privateKey, header, claims(options.claims));
}

/** The token endpoint's check (no access token) at NOW with the defaults. */
const check = (overrides: Partial<DpopProofCheck> = {}): DpopProofCheck => ({
  htm: 'POST',
  htu: TOKEN_URL,
  windowSeconds: DEFAULTS.dpop.proofWindowSeconds,
  clockToleranceSeconds: DEFAULTS.clockToleranceSeconds,
  maxLength: DEFAULTS.dpop.maxProofLength,
  now: NOW,
  ...overrides,
});

/** The reason a proof is refused, or 'accepted'. */
async function reasonOf(value: string, c: DpopProofCheck = check()): Promise<DpopRejectionReason | 'accepted'> {
  try {
    await verifyDpopProof(value, c);
    return 'accepted';
  } catch (err) {
    if (err instanceof DpopProofRejected) return err.reason;
    throw err;
  }
}

const rejection = async (value: string, c: DpopProofCheck = check()): Promise<DpopProofRejected> => {
  const err: unknown = await verifyDpopProof(value, c).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DpopProofRejected)) throw new Error(`expected a DpopProofRejected, got ${String(err)}`);
  return err;
};

interface JoseJob {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  jwk: object;
}

/** Runs jose in a child process: an ESM module read from stdin-less `-e`, resolved from the project root. */
function runNode(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: join(__dirname, '..', '..'), timeout: 20_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`node ${args[0]} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const joseSign = async (jobs: JoseJob[]): Promise<string[]> =>
  JSON.parse(await runNode([join(__dirname, 'fixtures', 'jose-sign.mjs'), JSON.stringify(jobs)])) as string[];

/** jose's RFC 7638 SHA-256 thumbprints of public JWKs. */
const joseThumbprints = async (jwks: object[]): Promise<string[]> =>
  JSON.parse(
    await runNode([
      '--input-type=module',
      '-e',
      `import { calculateJwkThumbprint } from 'jose';
       const jwks = JSON.parse(process.argv[1]);
       process.stdout.write(JSON.stringify(await Promise.all(jwks.map((jwk) => calculateJwkThumbprint(jwk, 'sha256')))));`,
      JSON.stringify(jwks),
    ]),
  ) as string[];

describe('verifyDpopProof: accepted proofs', () => {
  test.each(['ES256', 'RS256', 'PS256'] as const)('RFC 9449 §4.2, §4.3: a %s proof with its public key as jwk is accepted', async (alg) => {
    const jti = randomBytes(12).toString('base64url');
    const verified = await verifyDpopProof(proof({ alg, claims: { jti } }), check());
    expect(verified).toEqual({
      jkt: jwkThumbprint(pairOf[alg].publicKey),
      jti,
      iat: NOW,
      replayUntil: NOW + DEFAULTS.dpop.proofWindowSeconds + DEFAULTS.clockToleranceSeconds,
    });
  });

  test('DPOP_ALGORITHMS: ES256 first, then RS256 and PS256; never none or an HMAC', () => {
    expect(DPOP_ALGORITHMS).toEqual(['ES256', 'RS256', 'PS256']);
  });

  test('RFC 9449 §4.2: proofs made by jose (typ dpop+jwt, jwk header) are accepted, with the jkt jose computes (RFC 7638)', async () => {
    const jobs: JoseJob[] = (['ES256', 'RS256', 'PS256'] as const).map((alg) => ({
      header: { typ: 'dpop+jwt', alg, jwk: publicJwk(pairOf[alg]) },
      payload: claims({ jti: `jose-${alg}` }),
      jwk: privateJwk(pairOf[alg]),
    }));
    const proofs = await joseSign(jobs);
    const thumbprints = await joseThumbprints([publicJwk(ec), publicJwk(rsa)]);
    const verified = await Promise.all(proofs.map((p) => verifyDpopProof(p, check())));
    expect(verified.map((v) => v.jti)).toEqual(['jose-ES256', 'jose-RS256', 'jose-PS256']);
    expect(verified.map((v) => v.jkt)).toEqual([thumbprints[0], thumbprints[1], thumbprints[1]]);
  });

  test('RFC 7638 §3.1: the thumbprint of the RFC example RSA key is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs', () => {
    const example = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    // The way verifyDpopProof reads a proof's jwk, then thumbprints it.
    const read = readPublicJwk(example);
    if (!read.ok) throw new Error(read.error);
    expect(read.algorithms).toEqual(['RS256']);
    expect(jwkThumbprint(read.key)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  test('RFC 7515 §4.1.9: typ compares case-insensitively, and application/dpop+jwt is the same type', async () => {
    expect(await reasonOf(proof({ header: { typ: 'DPoP+JWT' } }))).toBe('accepted');
    expect(await reasonOf(proof({ header: { typ: 'application/dpop+jwt' } }))).toBe('accepted');
  });

  test('a kid in the header names nothing and is ignored; the jwk may carry a kid, alg and use "sig"', async () => {
    expect(await reasonOf(proof({ header: { kid: 'whatever' } }))).toBe('accepted');
    expect(await reasonOf(proof({ header: { jwk: { ...publicJwk(ec), kid: 'k', alg: 'ES256', use: 'sig' } } }))).toBe('accepted');
  });

  test('the key is thumbprinted from its public members only: extra jwk members do not change jkt', async () => {
    const plain = await verifyDpopProof(proof(), check());
    const extra = await verifyDpopProof(proof({ header: { jwk: { ...publicJwk(ec), kid: 'k', ext: true, key_ops: ['verify'] } } }), check());
    expect(extra.jkt).toBe(plain.jkt);
  });

  test('RFC 9449 §4.3 item 11: at the token endpoint (no access token) an ath is ignored', async () => {
    expect(await reasonOf(proof({ claims: { ath: 'anything' } }))).toBe('accepted');
  });

  test('exp and nbf are not DPoP claims, but one present still has to hold', async () => {
    expect(await reasonOf(proof({ claims: { exp: NOW + 30, nbf: NOW - 1 } }))).toBe('accepted');
    expect(await reasonOf(proof({ claims: { exp: NOW - 30 } }))).toBe('stale');
  });
});

describe('verifyDpopProof: refused, each one way', () => {
  test('a string that is not a compact JWS is malformed; a longer one than maxLength is too_long before parsing', async () => {
    expect(await reasonOf('not.a.proof')).toBe('malformed');
    expect(await reasonOf(`${proof()},${proof()}`)).toBe('malformed');
    expect(await reasonOf(proof(), check({ maxLength: 100 }))).toBe('too_long');
    expect(await reasonOf('x'.repeat(DEFAULTS.dpop.maxProofLength + 1))).toBe('too_long');
  });

  test('RFC 9449 §4.3 item 4: typ JWT, or no typ, is wrong_type', async () => {
    expect(await reasonOf(proof({ header: { typ: 'JWT' } }))).toBe('wrong_type');
    expect(await reasonOf(proof({ header: { typ: 'at+jwt' } }))).toBe('wrong_type');
    expect(await reasonOf(proof({ header: { typ: undefined } }))).toBe('wrong_type');
  });

  test('RFC 9449 §4.3 item 5: alg none is refused: malformed with its empty signature, unsupported_algorithm with one', async () => {
    const none = unsecuredJws({ typ: 'dpop+jwt', alg: 'none', jwk: publicJwk(ec) }, claims());
    expect(await reasonOf(none)).toBe('malformed');
    expect(await reasonOf(`${none}c2ln`)).toBe('unsupported_algorithm');
  });

  test('RFC 9449 §4.3 item 5: HS256 keyed with the public key bytes is unsupported_algorithm', async () => {
    const pemBytes = rsa.publicKey.export({ format: 'pem', type: 'spki' });
    const forged = signHs256(pemBytes, { typ: 'dpop+jwt', alg: 'HS256', jwk: publicJwk(rsa) }, claims());
    const err = await rejection(forged);
    expect(err.reason).toBe('unsupported_algorithm');
    expect(err.message).toBe('The DPoP proof must be signed with ES256, RS256, PS256.');
  });

  test('an algorithm left out of check.algorithms is unsupported_algorithm', async () => {
    expect(await reasonOf(proof({ alg: 'RS256' }), check({ algorithms: ['ES256'] }))).toBe('unsupported_algorithm');
  });

  test('RFC 9449 §4.2, §4.3 item 7: a jwk with the private member d is bad_key (the proof is signed correctly)', async () => {
    expect(await reasonOf(proof({ header: { jwk: privateJwk(ec) } }))).toBe('bad_key');
    expect(await reasonOf(proof({ alg: 'RS256', header: { jwk: privateJwk(rsa) } }))).toBe('bad_key');
  });

  test('RFC 9449 §4.3 item 5: a symmetric jwk (kty oct) is bad_key', async () => {
    expect(await reasonOf(proof({ header: { jwk: { kty: 'oct', k: randomBytes(32).toString('base64url') } } }))).toBe('bad_key');
  });

  test('RFC 9449 §4.2: no jwk, or a jwk that is not an object, is bad_key', async () => {
    expect(await reasonOf(proof({ header: { jwk: undefined } }))).toBe('bad_key');
    expect(await reasonOf(proof({ header: { jwk: 'eyJrdHkiOiJFQyJ9' } }))).toBe('bad_key');
    expect(await reasonOf(proof({ header: { jwk: [publicJwk(ec)] } }))).toBe('bad_key');
  });

  test('a jwk that does not import, an RSA key below 2048 bits, another curve, or a kty unfit for the alg is bad_key', async () => {
    expect(await reasonOf(proof({ header: { jwk: { ...publicJwk(ec), x: 'AAAA' } } }))).toBe('bad_key');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(await reasonOf(proof({ alg: 'RS256', pair: small }))).toBe('bad_key');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(await reasonOf(proof({ header: { jwk: publicJwk(p384) } }))).toBe('bad_key');
    // An EC key for RS256, an RSA key for ES256, a jwk whose own alg is not the header's.
    expect(await reasonOf(proof({ alg: 'RS256', header: { jwk: publicJwk(ec) } }))).toBe('bad_key');
    expect(await reasonOf(proof({ alg: 'ES256', header: { jwk: publicJwk(rsa) } }))).toBe('bad_key');
    expect(await reasonOf(proof({ alg: 'PS256', header: { jwk: { ...publicJwk(rsa), alg: 'RS256' } } }))).toBe('bad_key');
    expect(await reasonOf(proof({ header: { jwk: { ...publicJwk(ec), use: 'enc' } } }))).toBe('bad_key');
  });

  test('RFC 9449 §4.3 item 6: a signature by another key than the jwk is bad_signature', async () => {
    expect(await reasonOf(proof({ signer: otherEc.privateKey }))).toBe('bad_signature');
    const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(await reasonOf(proof({ alg: 'PS256', signer: otherRsa.privateKey }))).toBe('bad_signature');
  });

  test('RFC 7515 §4.1.11: a crit header is malformed (no extension is understood)', async () => {
    expect(await reasonOf(proof({ header: { crit: ['exp'] } }))).toBe('malformed');
  });

  test('RFC 9449 §4.3 item 8: htm GET for a POST is wrong_method; methods compare exactly; a missing htm too', async () => {
    expect(await reasonOf(proof({ claims: { htm: 'GET' } }))).toBe('wrong_method');
    expect(await reasonOf(proof({ claims: { htm: 'post' } }))).toBe('wrong_method');
    expect(await reasonOf(proof({ claims: { htm: undefined } }))).toBe('wrong_method');
  });

  test('RFC 9449 §4.3 item 9: htu naming another path, another host or a trailing slash more is wrong_url; a missing htu too', async () => {
    expect(await reasonOf(proof({ claims: { htu: 'https://issuer.example/oauth/introspect' } }))).toBe('wrong_url');
    expect(await reasonOf(proof({ claims: { htu: 'https://other.example/oauth/token' } }))).toBe('wrong_url');
    expect(await reasonOf(proof({ claims: { htu: 'http://issuer.example/oauth/token' } }))).toBe('wrong_url');
    expect(await reasonOf(proof({ claims: { htu: `${TOKEN_URL}/` } }))).toBe('wrong_url');
    expect(await reasonOf(proof({ claims: { htu: 'https://issuer.example:8443/oauth/token' } }))).toBe('wrong_url');
    expect(await reasonOf(proof({ claims: { htu: undefined } }))).toBe('wrong_url');
    expect(await reasonOf(proof({ claims: { htu: '/oauth/token' } }))).toBe('wrong_url');
  });

  test('RFC 9449 §4.3 item 9: the query and fragment are ignored, on either side', async () => {
    expect(await reasonOf(proof({ claims: { htu: `${TOKEN_URL}?a=1#frag` } }))).toBe('accepted');
    expect(await reasonOf(proof(), check({ htu: `${TOKEN_URL}?client=1` }))).toBe('accepted');
  });

  test('RFC 9449 §4.3 item 9, RFC 3986 §6.2.2, §6.2.3: case of scheme and host and the default port are normalized', async () => {
    expect(await reasonOf(proof({ claims: { htu: 'HTTPS://Issuer.EXAMPLE:443/oauth/token' } }))).toBe('accepted');
    expect(await reasonOf(proof({ claims: { htu: 'https://issuer.example/oauth/%74oken' } }))).toBe('accepted');
    // The path's case is not normalized.
    expect(await reasonOf(proof({ claims: { htu: 'https://issuer.example/oauth/Token' } }))).toBe('wrong_url');
  });

  test('RFC 9449 §4.3 item 10: iat 120 s old or 120 s ahead is stale; a missing or non-numeric iat too', async () => {
    expect(await reasonOf(proof({ claims: { iat: NOW - 120 } }))).toBe('stale');
    expect(await reasonOf(proof({ claims: { iat: NOW + 120 } }))).toBe('stale');
    expect(await reasonOf(proof({ claims: { iat: undefined } }))).toBe('stale');
    expect(await reasonOf(proof({ claims: { iat: String(NOW) } }))).toBe('stale');
  });

  test('RFC 9449 §11.1: iat within the window plus the clock tolerance, either way, is accepted; one second beyond is not', async () => {
    const edge = DEFAULTS.dpop.proofWindowSeconds + DEFAULTS.clockToleranceSeconds;
    expect(await reasonOf(proof({ claims: { iat: NOW - edge } }))).toBe('accepted');
    expect(await reasonOf(proof({ claims: { iat: NOW + edge } }))).toBe('accepted');
    expect(await reasonOf(proof({ claims: { iat: NOW - edge - 1 } }))).toBe('stale');
    expect(await reasonOf(proof({ claims: { iat: NOW + 10 } }), check({ windowSeconds: 0, clockToleranceSeconds: 5 }))).toBe('stale');
  });

  test('RFC 9449 §4.2: no jti, an empty one, a non-string one or one over 256 characters is missing_jti', async () => {
    expect(await reasonOf(proof({ claims: { jti: undefined } }))).toBe('missing_jti');
    expect(await reasonOf(proof({ claims: { jti: '' } }))).toBe('missing_jti');
    expect(await reasonOf(proof({ claims: { jti: 42 } }))).toBe('missing_jti');
    expect(await reasonOf(proof({ claims: { jti: 'j'.repeat(257) } }))).toBe('missing_jti');
    expect(await reasonOf(proof({ claims: { jti: 'j'.repeat(256) } }))).toBe('accepted');
  });
});

describe('verifyDpopProof at a resource server: ath (RFC 9449 §4.3 item 11, §7)', () => {
  const accessToken = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjbGllbnQifQ.c2ln';
  const atResource = (overrides: Partial<DpopProofCheck> = {}) => check({ htm: 'GET', htu: RESOURCE_URL, accessToken, ...overrides });
  const resourceProof = (more: Record<string, unknown> = {}) =>
    proof({ claims: { htm: 'GET', htu: RESOURCE_URL, ath: accessTokenHash(accessToken), ...more } });

  test('RFC 9449 §4.2: ath is base64url(SHA-256(ASCII octets of the token))', () => {
    expect(accessTokenHash(accessToken)).toBe(createHash('sha256').update(Buffer.from(accessToken, 'ascii')).digest('base64url'));
    expect(accessTokenHash(accessToken)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test('a proof whose ath is the access token hash is accepted', async () => {
    expect(await reasonOf(resourceProof(), atResource())).toBe('accepted');
  });

  test('ath missing, of another token, or not a string is wrong_ath', async () => {
    expect(await reasonOf(resourceProof({ ath: undefined }), atResource())).toBe('wrong_ath');
    expect(await reasonOf(resourceProof({ ath: accessTokenHash(`${accessToken}x`) }), atResource())).toBe('wrong_ath');
    expect(await reasonOf(resourceProof({ ath: 12 }), atResource())).toBe('wrong_ath');
  });
});

describe('verifyDpopProof with server nonces (RFC 9449 §8, §9)', () => {
  const nonces = new DpopNonces({ secret: randomBytes(32), now: () => NOW });
  const withNonce = check({ nonce: (n) => nonces.accepts(n) });

  test('a proof carrying the current nonce is accepted', async () => {
    expect(await reasonOf(proof({ claims: { nonce: nonces.current() } }), withNonce)).toBe('accepted');
  });

  test('a proof without nonce, with an empty or a wrong one is use_nonce', async () => {
    expect(await reasonOf(proof(), withNonce)).toBe('use_nonce');
    expect(await reasonOf(proof({ claims: { nonce: '' } }), withNonce)).toBe('use_nonce');
    expect(await reasonOf(proof({ claims: { nonce: 'not-one-of-ours' } }), withNonce)).toBe('use_nonce');
    const foreign = new DpopNonces({ secret: randomBytes(32), now: () => NOW });
    expect(await reasonOf(proof({ claims: { nonce: foreign.current() } }), withNonce)).toBe('use_nonce');
  });

  test('without a nonce check, a nonce in the proof is ignored', async () => {
    expect(await reasonOf(proof({ claims: { nonce: 'whatever' } }))).toBe('accepted');
  });

  test('every other check comes first: a stale proof without nonce is stale, not use_nonce', async () => {
    expect(await reasonOf(proof({ claims: { iat: NOW - 600 } }), withNonce)).toBe('stale');
  });
});

describe('htuOf (RFC 9449 §4.3 item 9, RFC 3986 §6.2.2, §6.2.3)', () => {
  test.each([
    ['https://Issuer.Example/oauth/token', 'https://issuer.example/oauth/token'],
    ['HTTPS://issuer.example:443/oauth/token', 'https://issuer.example/oauth/token'],
    ['http://issuer.example:80/a', 'http://issuer.example/a'],
    ['http://issuer.example:443/a', 'http://issuer.example:443/a'],
    ['https://issuer.example', 'https://issuer.example/'],
    ['https://issuer.example/a?b=c#d', 'https://issuer.example/a'],
    ['https://issuer.example/a/./b/../c', 'https://issuer.example/a/c'],
    ['https://issuer.example/%7e%41%2f%2F%c3%a9', 'https://issuer.example/~A%2F%2F%C3%A9'],
    ['https://[::1]:8443/x', 'https://[::1]:8443/x'],
  ])('%s is compared as %s', (url, normalized) => {
    expect(htuOf(url)).toBe(normalized);
  });

  test.each([
    ['a relative reference', '/oauth/token'],
    ['another scheme', 'ftp://issuer.example/x'],
    ['a scheme without //', 'https:issuer.example/x'],
    ['userinfo (RFC 9110 §4.2.4)', 'https://user:pass@issuer.example/x'],
    ['whitespace', 'https://issuer.example/a b'],
    ['an unparsable host', 'https://exa mple/'],
    ['nothing', ''],
  ])('%s is no htu: null', (_what, url) => {
    expect(htuOf(url)).toBeNull();
  });
});
