/** RFC 6750 §2 / §3: how the bearer token must be presented, and the answers when it is not. */
import { NO_TOKEN_CHALLENGE } from '../support/constants';
import request from 'supertest';
import { rawRequest, rawSocketRequest } from '../support/http';
import { bearerGet, expectBearerError, getToken, parseChallenge } from '../support/oauth';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
let token: string;
beforeAll(async () => {
  server = createTestServer();
  const c = await seedClient(server.auth, ['reports:read']);
  token = await getToken(server, c.clientId, c.clientSecret);
});
afterAll(() => server.close());

test('RFC 6750 §3.1: no token at all is 401 with a bare challenge: realm only, no error attribute', async () => {
  const res = await request(server.app).get('/api/reports');
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toBe(NO_TOKEN_CHALLENGE);
  expect(res.headers['www-authenticate']).not.toMatch(/error/);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({});
});

test('RFC 6750 §3: another scheme (Basic) carries no bearer credentials: bare 401 challenge', async () => {
  const res = await request(server.app).get('/api/reports').set('Authorization', 'Basic dXNlcjpwYXNz');
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toBe(NO_TOKEN_CHALLENGE);
});

test('RFC 6750 §3: the realm option is used in the challenge', async () => {
  const other = createTestServer({ realm: 'reports "api"' });
  try {
    const res = await request(other.app).get('/api/reports');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="reports \\"api\\"", DPoP realm="reports \\"api\\"", algs="ES256 RS256 PS256"');
    expect(parseChallenge(res.headers['www-authenticate']).params.realm).toBe('reports "api"');
  } finally {
    await other.close();
  }
});

test.each([['Bearer'], ['bearer'], ['BEARER'], ['BeArEr']])(
  'RFC 6750 §2.1 / RFC 9110 §11.1: the scheme "%s" is accepted (case-insensitive)',
  async (scheme) => {
    const res = await request(server.app).get('/api/reports').set('Authorization', `${scheme} ${token}`);
    expect(res.status).toBe(200);
  },
);

test('RFC 6750 §2.1: several spaces between scheme and token are tolerated (1*SP)', async () => {
  const res = await request(server.app).get('/api/reports').set('Authorization', `Bearer   ${token}`);
  expect(res.status).toBe(200);
});

test.each([
  ['"Bearer" alone', 'Bearer'],
  ['"Bearer " with only a space', 'Bearer '],
  ['two tokens', 'Bearer a b'],
  ['a token then junk', 'Bearer abc def=='],
  ['characters outside b64token', 'Bearer abc$def'],
  ['padding in the middle', 'Bearer ab=cd'],
  ['a quoted token', 'Bearer "abc"'],
  ['a comma-separated pair', 'Bearer abc, def'],
])('RFC 6750 §2.1 / §3.1: a malformed header (%s) is 400 invalid_request', async (_label, header) => {
  const res = await rawRequest(server.app, { path: '/api/reports', headers: { Authorization: header } });
  expectBearerError(res, 400, 'invalid_request', { exact: true });
});

test('RFC 6750 §3.1: two Authorization headers are 400 invalid_request', async () => {
  const res = await rawRequest(server.app, { path: '/api/reports', headers: { Authorization: [`Bearer ${token}`, `Bearer ${token}`] } });
  expectBearerError(res, 400, 'invalid_request', { exact: true });
});

test('RFC 6750 §3.1: two Authorization header lines with differently-cased names are still two', async () => {
  const res = await rawSocketRequest(server.app, ['GET /api/reports HTTP/1.1', 'Host: x', `Authorization: Bearer ${token}`, `AUTHORIZATION: Bearer ${token}`]);
  expectBearerError(res, 400, 'invalid_request', { exact: true });
});

test('RFC 6750 §3.1: a Bearer header next to a second, non-Bearer Authorization header is 400 invalid_request', async () => {
  const res = await rawRequest(server.app, { path: '/api/reports', headers: { Authorization: [`Bearer ${token}`, 'Basic dXNlcjpwYXNz'] } });
  expectBearerError(res, 400, 'invalid_request', { exact: true });
});

test('RFC 6750 §2.1: a single header sent over a raw socket works (control for the two-header tests)', async () => {
  const res = await rawSocketRequest(server.app, ['GET /api/reports HTTP/1.1', 'Host: x', `authorization: bearer ${token}`]);
  expect(res.status).toBe(200);
});

test('RFC 6750 §2.3 / RFC 9700 §4.3.2: a token in the query string is 400 invalid_request', async () => {
  const res = await request(server.app).get(`/api/reports?access_token=${token}`);
  expectBearerError(res, 400, 'invalid_request', { exact: true });
});

test('RFC 6750 §3.1: a token in the header and the query string at once is 400 invalid_request', async () => {
  const res = await bearerGet(server.app, token, `/api/reports?access_token=${token}`);
  expectBearerError(res, 400, 'invalid_request', { exact: true });
});

test('RFC 6750 §2.2: a token in a form body is not accepted (no body token support): 400 when the app parsed the body', async () => {
  const express = (await import('express')).default;
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.post('/api/thing', server.auth.authenticate(), (_req, res) => res.json({ ok: true }));
  const res = await request(app).post('/api/thing').type('form').send({ access_token: token });
  expectBearerError(res, 400, 'invalid_request', { exact: true });
});

test('RFC 6750 §3.1: a token over maxTokenLength is 401 invalid_token', async () => {
  const res = await bearerGet(server.app, 'a'.repeat(5000));
  expectBearerError(res, 401, 'invalid_token', { exact: true });
});

test('RFC 6750 §3.1: an unguarded route needs no token', async () => {
  expect((await request(server.app).get('/api/open')).status).toBe(200);
});
