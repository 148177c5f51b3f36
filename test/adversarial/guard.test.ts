/**
 * Attacks on the scope guard (RFC 6750, RFC 9068, RFC 8725): forged, altered, stale and misdirected
 * tokens, key-injection headers, odd ways of presenting a token. Forged tokens are signed with the
 * registry's real private key (jsonwebtoken) so that only the attacked property is wrong.
 */
import { NO_TOKEN_CHALLENGE } from '../support/constants';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { nowSeconds, sleep } from '../support/time';
import { listen, rawSocketRequest, type Listening } from '../support/http';
import { bearerGet, expectBearerError, getToken } from '../support/oauth';
import { b64json, claimsFor, decodeJwt, foreignKey, forge, realKey, signHs256, signJws, unsecuredJws, type RealKey } from '../support/jwt';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
let clientId: string;
let clientSecret: string;
let key: RealKey;
let genuine: string;

beforeAll(async () => {
  server = createTestServer();
  ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read']));
  genuine = await getToken(server, clientId, clientSecret); // also creates the signing key
  key = await realKey(server);
});
afterAll(() => server.close());

const get = (token: string, path?: string) => bearerGet(server.app, token, path);

async function expectRejected(token: string, description?: RegExp): Promise<void> {
  const res = await get(token);
  const challenge = expectBearerError(res, 401, 'invalid_token');
  if (description) expect(res.body.error_description).toMatch(description);
  expect(challenge.error_description).toBe(res.body.error_description);
}

test('control: the genuine token and a token forged with the real key and honest claims are accepted', async () => {
  expect((await get(genuine)).status).toBe(200);
  expect((await get(forge(key, claimsFor(clientId)))).status).toBe(200);
});

describe('signature and algorithm attacks', () => {
  test.each(['none', 'None', 'NONE', 'nOnE'])('alg %j (unsecured JWS) is rejected', async (alg) => {
    await expectRejected(unsecuredJws({ alg, typ: 'at+jwt', kid: key.kid }, claimsFor(clientId)), /not a JWT/); // empty signature part
    await expectRejected(`${unsecuredJws({ alg, typ: 'at+jwt', kid: key.kid }, claimsFor(clientId))}c2ln`, /algorithm/);
  });

  test('HS256 keyed with the RSA public key PEM (algorithm confusion) is rejected', async () => {
    await expectRejected(signHs256(key.publicKeyPem, { alg: 'HS256', typ: 'at+jwt', kid: key.kid }, claimsFor(clientId)), /algorithm/);
    await expectRejected(signHs256(JSON.stringify(key.publicJwk), { alg: 'HS256', typ: 'at+jwt', kid: key.kid }, claimsFor(clientId)), /algorithm/);
  });

  test('an HMAC over the public key PEM presented as RS256 is an invalid signature', async () => {
    await expectRejected(signHs256(key.publicKeyPem, { alg: 'RS256', typ: 'at+jwt', kid: key.kid }, claimsFor(clientId)), /signature/);
  });

  test("ES256 in the header with the RSA key's kid (algorithm substitution) is rejected", async () => {
    await expectRejected(signJws(key.privateKeyPem, 'RS256', { alg: 'ES256', typ: 'at+jwt', kid: key.kid }, claimsFor(clientId)), /unknown key/);
    await expectRejected(signJws(key.privateKeyPem, 'RS256', { alg: 'PS256', typ: 'at+jwt', kid: key.kid }, claimsFor(clientId)), /algorithm/);
    await expectRejected(signJws(key.privateKeyPem, 'RS256', { alg: 'RS512', typ: 'at+jwt', kid: key.kid }, claimsFor(clientId)), /algorithm/);
  });

  test('a tampered payload (scope widened, signature kept) is rejected', async () => {
    const [h, , s] = genuine.split('.');
    const payload = decodeJwt(genuine).payload;
    payload.scope = 'reports:read reports:write';
    const tampered = `${h}.${b64json(payload)}.${s}`;
    await expectRejected(tampered, /signature/);
    const res = await request(server.app).post('/api/reports').set('Authorization', `Bearer ${tampered}`);
    expectBearerError(res, 401, 'invalid_token');
  });

  test('a tampered header (kid swapped, signature kept) is rejected', async () => {
    const [, p, s] = genuine.split('.');
    const header = b64json({ alg: 'RS256', typ: 'at+jwt', kid: key.kid, x: 1 });
    await expectRejected(`${header}.${p}.${s}`, /signature/);
  });

  test('an unknown kid is rejected, whether signed by the real key or by an attacker key', async () => {
    await expectRejected(forge(key, claimsFor(clientId), { kid: 'no-such-kid' }), /unknown key/);
    const pem = foreignKey().privateKeyPem;
    await expectRejected(forge({ kid: 'attacker-kid', privateKeyPem: pem }, claimsFor(clientId)), /unknown key/);
    await expectRejected(forge({ kid: key.kid, privateKeyPem: pem }, claimsFor(clientId)), /signature/);
  });

  test('a kid shaped like an object key (__proto__, constructor) is just unknown', async () => {
    await expectRejected(forge(key, claimsFor(clientId), { kid: '__proto__' }));
    await expectRejected(forge(key, claimsFor(clientId), { kid: 'constructor' }));
  });

  test('a crit header naming an extension ccgate does not understand is rejected (RFC 7515 §4.1.11)', async () => {
    await expectRejected(forge(key, claimsFor(clientId), { crit: ['exp-check'], 'exp-check': true }));
    await expectRejected(forge(key, claimsFor(clientId), { crit: ['b64'], b64: true }));
  });

  test('a JWT of another type (typ JWT or missing) signed by the real key is not an access token (RFC 9068 §4)', async () => {
    await expectRejected(forge(key, claimsFor(clientId), { typ: 'JWT' }), /typ/);
    const noTyp = jwt.sign(claimsFor(clientId), key.privateKeyPem, { algorithm: 'RS256', keyid: key.kid });
    await expectRejected(noTyp, /typ/);
  });
});

describe('key-injection headers (jku, x5u, jwk) are never followed', () => {
  let jwksServer: Listening;
  let connections = 0;
  let url: string;
  let attackerPem: string;
  let attackerJwk: Record<string, unknown>;
  beforeAll(async () => {
    const attacker = foreignKey();
    attackerPem = attacker.privateKeyPem;
    attackerJwk = { ...attacker.publicJwk, kid: 'attacker', alg: 'RS256', use: 'sig' };
    jwksServer = await listen((_req, res) => res.end(JSON.stringify({ keys: [attackerJwk] })));
    jwksServer.server.on('connection', () => connections++);
    url = jwksServer.origin;
  });
  afterAll(() => jwksServer.stop());

  test("attacker-signed tokens pointing at the attacker's keys are rejected, and nothing connects to the attacker", async () => {
    const attacker = { kid: 'attacker', privateKeyPem: attackerPem };
    const headers: Record<string, unknown>[] = [
      { jku: `${url}/jwks` },
      { x5u: `${url}/cert.pem` },
      { jwk: attackerJwk },
      { jku: `${url}/jwks`, x5u: `${url}/cert.pem`, jwk: attackerJwk },
    ];
    for (const header of headers) {
      await expectRejected(forge(attacker, claimsFor(clientId), header), /unknown key/);
      // Same, claiming the real kid: the real key does not verify the attacker's signature.
      await expectRejected(forge({ kid: key.kid, privateKeyPem: attackerPem }, claimsFor(clientId), header), /signature/);
    }
    await sleep(200);
    expect(connections).toBe(0);
  });

  test('a real-key token carrying jku/x5u headers is judged on the real key alone (accepted), still no connection', async () => {
    const res = await get(forge(key, claimsFor(clientId), { jku: `${url}/jwks`, x5u: `${url}/cert.pem` }));
    expect(res.status).toBe(200);
    await sleep(100);
    expect(connections).toBe(0);
  });
});

describe('claims attacks', () => {
  test('expired (beyond the 5 s tolerance) is rejected', async () => {
    const now = nowSeconds();
    await expectRejected(forge(key, claimsFor(clientId, { iat: now - 120, exp: now - 60 })), /expired/);
  });

  test('not yet valid (nbf in the future) is rejected', async () => {
    await expectRejected(forge(key, claimsFor(clientId, { nbf: nowSeconds() + 120 })), /not valid yet/);
  });

  test.each([
    ['another issuer', 'https://evil.test'],
    ['the issuer with a trailing slash', 'https://issuer.test/'],
    ['the issuer in other case', 'HTTPS://ISSUER.TEST'],
  ])('wrong iss (%s) is rejected', async (_label, iss) => {
    await expectRejected(forge(key, claimsFor(clientId, { iss })), /issued by someone else/);
  });

  test.each([
    ['another audience', 'https://other-api.test'],
    ['an array without ours', ['https://a.test', 'https://b.test']],
  ])('wrong aud (%s) is rejected', async (_label, aud) => {
    await expectRejected(forge(key, claimsFor(clientId, { aud })), /audience/);
  });

  test('scope given as an array claim is rejected (RFC 9068 §2.2.3: a space-delimited string)', async () => {
    await expectRejected(forge(key, claimsFor(clientId, { scope: ['reports:read', 'reports:write'] })), /scope/);
  });

  test.each([
    ['no exp', { exp: undefined }],
    ['exp as a string', { exp: String(nowSeconds() + 300) }],
    ['no jti', { jti: undefined }],
    ['no client_id', { client_id: undefined }],
  ])('a token with %s is rejected', async (_label, override) => {
    await expectRejected(signJws(key.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: key.kid }, claimsFor(clientId, override)));
  });

  test('a scope that only looks like the needed one does not pass (403 insufficient_scope)', async () => {
    const token = forge(key, claimsFor(clientId, { scope: 'reports:read reports:writer xreports:write reports:write:x' }));
    const res = await request(server.app).post('/api/reports').set('Authorization', `Bearer ${token}`);
    const challenge = expectBearerError(res, 403, 'insufficient_scope');
    expect(challenge.scope).toBe('reports:write');
  });
});

describe('token state: revoked, disabled, deleted', () => {
  test('a revoked token is rejected at once (even though its signature was cached)', async () => {
    const token = await getToken(server, clientId, clientSecret);
    expect((await get(token)).status).toBe(200);
    const claims = decodeJwt(token).payload;
    await server.auth.registry.revokeToken({ jti: claims.jti, clientId, expiresAt: claims.exp });
    await expectRejected(token, /revoked/);
  });

  test('a token of a disabled client is rejected, and accepted again once re-enabled', async () => {
    const c = await seedClient(server.auth, ['reports:read']);
    const token = await getToken(server, c.clientId, c.clientSecret);
    expect((await get(token)).status).toBe(200);
    await server.auth.registry.setClientEnabled(c.clientId, false);
    await expectRejected(token, /disabled/);
    await server.auth.registry.setClientEnabled(c.clientId, true);
    expect((await get(token)).status).toBe(200);
  });

  test('a token of a deleted client is rejected', async () => {
    const c = await seedClient(server.auth, ['reports:read']);
    const token = await getToken(server, c.clientId, c.clientSecret);
    await server.auth.registry.deleteClient(c.clientId);
    await expectRejected(token, /no longer exists/);
  });

  test('a forged token for a client id that never existed is rejected', async () => {
    await expectRejected(forge(key, claimsFor('never-existed-client')), /no longer exists/);
  });
});

describe('how the token is presented', () => {
  test('an oversized token (> 4096 characters) is 401 invalid_token, refused before any parsing', async () => {
    await expectRejected('a'.repeat(5000), /too long/);
    const padded = forge(key, claimsFor(clientId, { pad: 'x'.repeat(4000) }));
    expect(padded.length).toBeGreaterThan(4096);
    await expectRejected(padded, /too long/);
  });

  test('two Authorization headers are 400 invalid_request', async () => {
    const res = await rawSocketRequest(server.app, ['GET /api/reports HTTP/1.1', `Authorization: Bearer ${genuine}`, `Authorization: Bearer ${genuine}`]);
    expectBearerError(res, 400, 'invalid_request');
    const mixed = await rawSocketRequest(server.app, ['GET /api/reports HTTP/1.1', 'Authorization: Basic YTpi', `Authorization: Bearer ${genuine}`]);
    expectBearerError(mixed, 400, 'invalid_request');
  });

  test('a token in the query string is 400 invalid_request, alone or next to the header', async () => {
    const alone = await request(server.app).get(`/api/reports?access_token=${genuine}`);
    expectBearerError(alone, 400, 'invalid_request');
    const both = await get(genuine, `/api/reports?access_token=${genuine}`);
    expectBearerError(both, 400, 'invalid_request');
  });

  test.each([
    ['a comma inside', 'abc,def'],
    ['a quote', 'abc"def'],
    ['padding in the middle', 'ab=cd'],
    ['a second word', `${'abc'} def`],
  ])('a malformed b64token (%s) is 400 invalid_request', async (_label, value) => {
    const res = await bearerGet(server.app, value);
    expectBearerError(res, 400, 'invalid_request');
  });

  test('"Bearer" with no token is 400 invalid_request; another scheme is a bare 401 challenge', async () => {
    expectBearerError(await request(server.app).get('/api/reports').set('Authorization', 'Bearer'), 400, 'invalid_request');
    const basicRes = await request(server.app).get('/api/reports').set('Authorization', 'Basic YTpi');
    expect(basicRes.status).toBe(401);
    expect(basicRes.headers['www-authenticate']).toBe(NO_TOKEN_CHALLENGE);
  });

  test('garbage that is a valid b64token but not a JWT is 401 invalid_token', async () => {
    await expectRejected('a.b.c', /not a JWT/);
    await expectRejected('eyJhbGciOiJSUzI1NiJ9.e30.', /not a JWT/);
  });
});
