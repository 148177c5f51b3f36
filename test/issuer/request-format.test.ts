/** RFC 6749 §3.2 / §4.4.2: what a token request must look like, and what happens when it does not. */
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { rawRequest } from '../support/http';
import { basic, basicRaw, expectTokenError } from '../support/oauth';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
let clientId: string;
let clientSecret: string;
beforeAll(async () => {
  server = createTestServer();
  ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read']));
});
afterAll(() => server.close());

const post = () => request(server.app).post('/oauth/token').set('Authorization', basic(clientId, clientSecret));

test('RFC 6749 §4.4.2: a form-urlencoded client_credentials request succeeds', async () => {
  const res = await post().type('form').send('grant_type=client_credentials');
  expect(res.status).toBe(200);
  expect(res.body.token_type).toBe('Bearer');
});

test('RFC 6749 §3.2: a JSON body is invalid_request', async () => {
  const res = await post()
    .set('Content-Type', 'application/json')
    .send(JSON.stringify({ grant_type: 'client_credentials' }));
  expectTokenError(res, 400, 'invalid_request');
  expect(res.body.error_description).toMatch(/x-www-form-urlencoded/);
});

test('RFC 6749 §3.2: a body with no Content-Type is invalid_request', async () => {
  const res = await rawRequest(server.app, {
    method: 'POST',
    path: '/oauth/token',
    headers: { Authorization: basic(clientId, clientSecret), 'Content-Length': '29' },
    body: 'grant_type=client_credentials',
  });
  expectTokenError(res, 400, 'invalid_request');
});

test('RFC 6749 §3.2: text/plain and multipart bodies are invalid_request', async () => {
  expectTokenError(await post().set('Content-Type', 'text/plain').send('grant_type=client_credentials'), 400, 'invalid_request');
  expectTokenError(await post().field('grant_type', 'client_credentials'), 400, 'invalid_request');
});

test('RFC 6749 §3.2: Content-Type parameters and case do not matter (charset=utf-8, upper case)', async () => {
  const res = await post().set('Content-Type', 'Application/X-WWW-Form-URLEncoded; charset=UTF-8').send('grant_type=client_credentials');
  expect(res.status).toBe(200);
});

test.each([
  ['grant_type', 'grant_type=client_credentials&grant_type=client_credentials'],
  ['scope', 'grant_type=client_credentials&scope=reports:read&scope=reports:read'],
  ['an unknown parameter', 'grant_type=client_credentials&foo=1&foo=2'],
  ['a parameter repeated with an empty value', 'grant_type=client_credentials&grant_type='],
])('RFC 6749 §3.2: repeated parameter (%s) is invalid_request', async (_label, body) => {
  const res = await post().type('form').send(body);
  expectTokenError(res, 400, 'invalid_request');
  expect(res.body.error_description).toMatch(/repeated/);
});

test('RFC 6749 §3.2: repeated client_id in the body is invalid_request', async () => {
  const res = await request(server.app)
    .post('/oauth/token')
    .type('form')
    .send(`grant_type=client_credentials&client_id=${clientId}&client_id=${clientId}&client_secret=${clientSecret}`);
  expectTokenError(res, 400, 'invalid_request');
});

test('RFC 6749 §4.4.2: missing grant_type is invalid_request', async () => {
  expectTokenError(await post().type('form').send('scope=reports:read'), 400, 'invalid_request');
});

test('RFC 6749 §3.1: grant_type sent with an empty value counts as omitted (invalid_request)', async () => {
  expectTokenError(await post().type('form').send('grant_type='), 400, 'invalid_request');
});

test('RFC 6749 §3.1: an empty body is invalid_request', async () => {
  expectTokenError(await post().type('form').send(''), 400, 'invalid_request');
});

test.each([['password'], ['authorization_code'], ['refresh_token'], ['Client_Credentials'], ['urn:ietf:params:oauth:grant-type:jwt-bearer']])(
  'RFC 6749 §5.2: grant_type=%s is unsupported_grant_type',
  async (grantType) => {
    expectTokenError(await post().type('form').send({ grant_type: grantType }), 400, 'unsupported_grant_type');
  },
);

test('RFC 6749 §3.2: GET /oauth/token is 405 with Allow: POST and a JSON body', async () => {
  const res = await request(server.app).get('/oauth/token?grant_type=client_credentials').set('Authorization', basic(clientId, clientSecret));
  expect(res.status).toBe(405);
  expect(res.headers.allow).toBe('POST');
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body.access_token).toBeUndefined();
});

test.each([['PUT'], ['DELETE'], ['PATCH']])('RFC 6749 §3.2: %s /oauth/token is 405 with Allow: POST', async (method) => {
  const res = await rawRequest(server.app, { method, path: '/oauth/token' });
  expect(res.status).toBe(405);
  expect(res.headers.allow).toBe('POST');
  expect(res.json()).toMatchObject({ error: 'invalid_request' });
});

describe('garbage input: always a JSON 4xx, never HTML, never a 500', () => {
  test('RFC 6749 §3.2: invalid percent-encoding in the body is read leniently, not a 500', async () => {
    const res = await post().type('form').send('grant_type=client_credentials&scope=%zz%');
    expectTokenError(res, 400, 'invalid_scope');
    const res2 = await post().type('form').send('grant_type=%E0%A4%A');
    expectTokenError(res2, 400, 'unsupported_grant_type');
  });

  test('RFC 6749 §3.2: a body larger than 8192 bytes is 413 invalid_request', async () => {
    const res = await post()
      .type('form')
      .send(`grant_type=client_credentials&pad=${'x'.repeat(9000)}`);
    expectTokenError(res, 413, 'invalid_request');
  });

  test('RFC 6749 §3.2: a body of exactly 8192 bytes is accepted', async () => {
    const prefix = 'grant_type=client_credentials&pad=';
    const res = await post()
      .type('form')
      .send(prefix + 'x'.repeat(8192 - prefix.length));
    expect(res.status).toBe(200);
  });

  test('RFC 6749 §3.2: a chunked body over the limit (no Content-Length) is 413 invalid_request', async () => {
    const res = await rawRequest(server.app, {
      method: 'POST',
      path: '/oauth/token',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Transfer-Encoding': 'chunked', Authorization: basic(clientId, clientSecret) },
      body: `grant_type=client_credentials&pad=${'y'.repeat(20000)}`,
    });
    expect(res.status).toBe(413);
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
  });

  test('RFC 6749 §3.2: an unknown charset is a 4xx invalid_request', async () => {
    const res = await post().set('Content-Type', 'application/x-www-form-urlencoded; charset=klingon').send('grant_type=client_credentials');
    expectTokenError(res, 400, 'invalid_request');
  });

  /** Sends exact bytes (supertest re-encodes Buffer bodies). */
  const postBytes = (body: Buffer, headers: Record<string, string> = {}) =>
    rawRequest(server.app, {
      method: 'POST',
      path: '/oauth/token',
      headers: {
        Authorization: basic(clientId, clientSecret),
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': String(body.length),
        ...headers,
      },
      body,
    });

  test('RFC 6749 §3.2: a latin1 charset body is decoded, not a 500', async () => {
    const res = await postBytes(Buffer.from('grant_type=client_credentials&x=\xe9', 'latin1'), {
      'Content-Type': 'application/x-www-form-urlencoded; charset=iso-8859-1',
    });
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
  });

  test('RFC 6749 §3.2: invalid UTF-8 bytes in the body are not a 500', async () => {
    const res = await postBytes(Buffer.concat([Buffer.from('grant_type='), Buffer.from([0xff, 0xfe, 0xc3])]));
    expectTokenError(res, 400, 'unsupported_grant_type');
  });

  test('RFC 6749 §3.2: a gzip-encoded body is inflated and accepted', async () => {
    const res = await postBytes(gzipSync('grant_type=client_credentials'), { 'Content-Encoding': 'gzip' });
    expect(res.status).toBe(200);
  });

  test('RFC 6749 §3.2: a corrupt gzip body is 400 invalid_request, not a 500', async () => {
    const res = await postBytes(Buffer.from('not gzip at all'), { 'Content-Encoding': 'gzip' });
    expectTokenError(res, 400, 'invalid_request');
  });

  test('RFC 6749 §3.2: a gzip body inflating past the limit is 413', async () => {
    const res = await postBytes(gzipSync(`grant_type=client_credentials&p=${'z'.repeat(100_000)}`), { 'Content-Encoding': 'gzip' });
    expectTokenError(res, 413, 'invalid_request');
  });

  test('RFC 6749 §3.2: an unknown Content-Encoding is a 4xx JSON error', async () => {
    const res = await post().type('form').set('Content-Encoding', 'br-nope').send('grant_type=client_credentials');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.error).toBe('invalid_request');
  });

  test('RFC 6749 §3.2: parameter names like __proto__ and constructor do not confuse the parser', async () => {
    const res = await post().type('form').send('grant_type=client_credentials&__proto__=x&constructor=y&toString=z&hasOwnProperty=1');
    expect(res.status).toBe(200);
    const res2 = await post().type('form').send('__proto__=client_credentials');
    expectTokenError(res2, 400, 'invalid_request');
  });

  test('RFC 6749 §5.2: a Basic header that is not base64 is a JSON 400, not a 500', async () => {
    const res = await request(server.app)
      .post('/oauth/token')
      .set('Authorization', 'Basic !!!not-base64!!!')
      .type('form')
      .send('grant_type=client_credentials');
    expectTokenError(res, 400, 'invalid_request');
  });

  test('RFC 6749 §5.2: a Basic header over 1024 characters is a JSON 400', async () => {
    const res = await request(server.app)
      .post('/oauth/token')
      .set('Authorization', basicRaw(clientId, 's'.repeat(2000)))
      .type('form')
      .send('grant_type=client_credentials');
    expectTokenError(res, 400, 'invalid_request');
  });

  test('RFC 6749 §5.2: a 10,000-character client_id is invalid_client, not a 500', async () => {
    const res = await request(server.app)
      .post('/oauth/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: 'c'.repeat(7000), client_secret: 'whatever-secret' });
    expectTokenError(res, 401, 'invalid_client');
  });
});
