/** RFC 6750 §3.1 invalid_token and RFC 9068 §4 validation of JWT access tokens, with hand-made tokens. */
import { createPublicKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { KeyRecord } from '../../lib';
import { ISSUER } from '../support/constants';
import { nowSeconds } from '../support/time';
import { bearerGet, ERROR_DESCRIPTION_CHARS, getToken, parseChallenge } from '../support/oauth';
import { b64json, claimsFor, decodeJwt, foreignKey, signHs256, signJws, unsecuredJws } from '../support/jwt';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
let clientId: string;
let realToken: string;
let rsKey: KeyRecord;
let esKey: KeyRecord;
beforeAll(async () => {
  server = createTestServer();
  const c = await seedClient(server.auth, ['reports:read']);
  clientId = c.clientId;
  realToken = await getToken(server, c.clientId, c.clientSecret);
  rsKey = (await server.auth.registry.listKeys()).find((k) => k.alg === 'RS256' && k.status === 'active')!;
  esKey = await server.auth.registry.ensureSigningKey('ES256');
});
afterAll(() => server.close());

const header = (overrides: Record<string, unknown> = {}) => ({ alg: 'RS256', typ: 'at+jwt', kid: rsKey.kid, ...overrides });
const sign = (claims: Record<string, unknown>, h: Record<string, unknown> = header()) => signJws(rsKey.privateKeyPem, 'RS256', h, claims);
const call = (token: string, path?: string) => bearerGet(server.app, token, path);

async function expectInvalidToken(token: string, description?: RegExp): Promise<void> {
  const res = await call(token);
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ error: 'invalid_token', error_description: expect.stringMatching(ERROR_DESCRIPTION_CHARS) });
  if (description) expect(res.body.error_description).toMatch(description);
  const challenge = parseChallenge(res.headers['www-authenticate']);
  expect(challenge.scheme).toBe('Bearer');
  expect(challenge.params).toEqual({ realm: 'ccgate', error: 'invalid_token', error_description: res.body.error_description });
}

test('control: a hand-signed token with the right key, typ, iss and aud is accepted', async () => {
  const res = await call(sign(claimsFor(clientId)));
  expect(res.status).toBe(200);
  expect(res.body.client).toBe(clientId);
});

test('control: a hand-signed ES256 token with the registry ES256 key is accepted', async () => {
  const token = signJws(esKey.privateKeyPem, 'ES256', { alg: 'ES256', typ: 'at+jwt', kid: esKey.kid }, claimsFor(clientId));
  expect((await call(token)).status).toBe(200);
});

test('RFC 9068 §4: typ application/at+jwt (long form, any case) is accepted', async () => {
  expect((await call(sign(claimsFor(clientId), header({ typ: 'application/at+jwt' })))).status).toBe(200);
  expect((await call(sign(claimsFor(clientId), header({ typ: 'AT+JWT' })))).status).toBe(200);
});

describe('RFC 6750 §3.1: invalid_token', () => {
  test('garbage is invalid_token', async () => {
    await expectInvalidToken('not-a-jwt', /not a JWT/);
    await expectInvalidToken('a.b.c');
  });

  test('an expired token is invalid_token (RFC 7519 §4.1.4)', async () => {
    const now = nowSeconds();
    await expectInvalidToken(sign(claimsFor(clientId, { iat: now - 3600, exp: now - 600 })), /expired/);
  });

  test('a tampered payload (scope widened) is invalid_token', async () => {
    const [h, , s] = realToken.split('.');
    const payload = decodeJwt(realToken).payload;
    payload.scope = 'reports:read reports:write admin';
    const tampered = `${h}.${b64json(payload)}.${s}`;
    await expectInvalidToken(tampered, /signature/);
  });

  test('a tampered signature is invalid_token', async () => {
    const [h, p, s] = realToken.split('.');
    const flipped = s[5] === 'A' ? 'B' : 'A';
    await expectInvalidToken(`${h}.${p}.${s.slice(0, 5)}${flipped}${s.slice(6)}`);
  });

  test('a token signed by a key the registry does not hold is invalid_token, even with a known kid', async () => {
    const pem = foreignKey().privateKeyPem;
    await expectInvalidToken(signJws(pem, 'RS256', header(), claimsFor(clientId)), /signature/);
    await expectInvalidToken(signJws(pem, 'RS256', header({ kid: 'unknown-kid' }), claimsFor(clientId)), /unknown key/);
  });

  test('RFC 9068 §4: the wrong issuer is invalid_token', async () => {
    await expectInvalidToken(sign(claimsFor(clientId, { iss: 'https://evil.test' })), /issued by someone else/);
    await expectInvalidToken(sign(claimsFor(clientId, { iss: `${ISSUER}/` })));
  });

  test('RFC 9068 §4: the wrong audience is invalid_token', async () => {
    await expectInvalidToken(sign(claimsFor(clientId, { aud: 'https://other-api.test' })), /another audience/);
    await expectInvalidToken(sign(claimsFor(clientId, { aud: ['https://a.test', 'https://b.test'] })));
  });

  test('RFC 9068 §4: a token without iss or without aud is invalid_token', async () => {
    const noIss = claimsFor(clientId);
    delete noIss.iss;
    await expectInvalidToken(sign(noIss), /issued by someone else/);
    const noAud = claimsFor(clientId);
    delete noAud.aud;
    await expectInvalidToken(sign(noAud), /another audience/);
  });

  test('RFC 9068 §4: an audience array containing ours is accepted', async () => {
    expect((await call(sign(claimsFor(clientId, { aud: ['https://a.test', ISSUER] })))).status).toBe(200);
  });

  test('RFC 8725 §2.1 / §3.1: alg none is invalid_token', async () => {
    await expectInvalidToken(unsecuredJws({ alg: 'none', typ: 'at+jwt', kid: rsKey.kid }, claimsFor(clientId)));
    // Even with a (meaningless) signature part present.
    const withSig = `${unsecuredJws({ alg: 'none', typ: 'at+jwt', kid: rsKey.kid }, claimsFor(clientId))}c2ln`;
    await expectInvalidToken(withSig, /algorithm/);
  });

  test('RFC 8725 §2.1: HS256 keyed with the public key (algorithm confusion) is invalid_token', async () => {
    const publicPem = createPublicKey(rsKey.privateKeyPem).export({ format: 'pem', type: 'spki' }).toString();
    const jwkJson = JSON.stringify(rsKey.publicJwk);
    for (const secret of [publicPem, jwkJson, rsKey.publicJwk.n as string]) {
      await expectInvalidToken(signHs256(secret, { alg: 'HS256', typ: 'at+jwt', kid: rsKey.kid }, claimsFor(clientId)), /algorithm/);
    }
  });

  test("RFC 8725 §3.1: a header alg that differs from the key's algorithm is invalid_token (no substitution)", async () => {
    // ES256 header but the RS256 key's kid.
    const token = signJws(esKey.privateKeyPem, 'ES256', { alg: 'ES256', typ: 'at+jwt', kid: rsKey.kid }, claimsFor(clientId));
    await expectInvalidToken(token, /unknown key/);
    // PS256 / RS512 are not accepted at all.
    await expectInvalidToken(sign(claimsFor(clientId), header({ alg: 'RS512' })), /algorithm/);
  });

  test.each([
    ['missing', undefined],
    ['JWT', 'JWT'],
    ['jwt', 'jwt'],
    ['at+jwt with a suffix', 'at+jwt2'],
    ['a number', 1],
  ])('RFC 9068 §4: typ %s is invalid_token', async (_label, typ) => {
    const h: Record<string, unknown> = header();
    if (typ === undefined) delete h.typ;
    else h.typ = typ;
    await expectInvalidToken(sign(claimsFor(clientId), h), /typ must be at\+jwt/);
  });

  test('a header without kid is invalid_token', async () => {
    const h: Record<string, unknown> = header();
    delete h.kid;
    await expectInvalidToken(sign(claimsFor(clientId), h), /names no key/);
  });

  test('RFC 9068 §2.2.3: scope as an array claim is invalid_token', async () => {
    await expectInvalidToken(sign(claimsFor(clientId, { scope: ['reports:read'] })), /scope is not a string/);
  });

  test('RFC 6749 §3.3: a scope claim breaking the scope grammar (double space) is invalid_token', async () => {
    await expectInvalidToken(sign(claimsFor(clientId, { scope: 'reports:read  reports:write' })), /scope is malformed/);
  });

  test('RFC 9068 §2.2: a token without a scope claim is invalid_token', async () => {
    const claims = claimsFor(clientId);
    delete claims.scope;
    await expectInvalidToken(sign(claims));
  });

  test.each([['exp'], ['iat'], ['jti'], ['client_id'], ['sub']])('RFC 9068 §2.2: a token without %s is invalid_token', async (claim) => {
    const claims = claimsFor(clientId);
    delete claims[claim];
    await expectInvalidToken(sign(claims));
  });

  test('RFC 7519 §4.1.4: a non-numeric exp is invalid_token', async () => {
    await expectInvalidToken(sign(claimsFor(clientId, { exp: String(nowSeconds() + 300) })));
  });

  test('RFC 7519 §4.1.5: nbf in the future (beyond tolerance) is invalid_token', async () => {
    await expectInvalidToken(sign(claimsFor(clientId, { nbf: nowSeconds() + 120 })), /not valid yet/);
  });

  test('RFC 7519 §4.1.5: nbf in the past is fine', async () => {
    expect((await call(sign(claimsFor(clientId, { nbf: nowSeconds() - 60 })))).status).toBe(200);
  });

  test('RFC 8725 §3.10: jku / x5u / jwk headers are never followed: a self-embedded key does not validate', async () => {
    const { privateKeyPem: pem, publicJwk: jwk } = foreignKey();
    const token = signJws(pem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: 'attacker', jwk, jku: 'https://evil.test/jwks' }, claimsFor(clientId));
    await expectInvalidToken(token, /unknown key/);
  });

  test('a token whose client does not exist is invalid_token', async () => {
    await expectInvalidToken(sign(claimsFor('no-such-client')), /no longer exists/);
  });

  test('a JWS with a JSON array header is invalid_token, not a 500', async () => {
    await expectInvalidToken(`${b64json(['RS256'])}.${b64json(claimsFor(clientId))}.c2ln`);
    await expectInvalidToken(`${Buffer.from('{not json').toString('base64url')}.${b64json(claimsFor(clientId))}.c2ln`);
  });

  test('a payload that is not JSON is invalid_token, not a 500', async () => {
    const h = b64json(header());
    await expectInvalidToken(`${h}.${Buffer.from('not json').toString('base64url')}.c2ln`);
  });
});

describe('jsonwebtoken-signed tokens (as a third party would make them)', () => {
  test('RFC 9068 §4: wrong iss via jsonwebtoken.sign is invalid_token; right iss passes', async () => {
    const opts = { algorithm: 'RS256' as const, keyid: rsKey.kid, header: { alg: 'RS256', typ: 'at+jwt' } };
    const base = { sub: clientId, client_id: clientId, scope: 'reports:read', jti: 'jwt-lib-1' };
    const good = jwt.sign(base, rsKey.privateKeyPem, { ...opts, issuer: ISSUER, audience: ISSUER, expiresIn: 60 });
    expect((await call(good)).status).toBe(200);
    const badIss = jwt.sign(base, rsKey.privateKeyPem, { ...opts, issuer: 'https://nope.test', audience: ISSUER, expiresIn: 60 });
    await expectInvalidToken(badIss, /issued by someone else/);
    const badAud = jwt.sign(base, rsKey.privateKeyPem, { ...opts, issuer: ISSUER, audience: 'https://nope.test', expiresIn: 60 });
    await expectInvalidToken(badAud, /another audience/);
  });
});
