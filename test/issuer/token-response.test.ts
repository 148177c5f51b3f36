/** RFC 6749 §4.4.3 / §5.1 access token responses and RFC 9068 JWT access tokens. */
import { createPublicKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { ISSUER } from '../support/constants';
import { nowSeconds } from '../support/time';
import { bearerGet, expectTokenError, tokenRequest } from '../support/oauth';
import { decodeJwt } from '../support/jwt';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
beforeAll(() => {
  server = createTestServer();
});
afterAll(() => server.close());

describe('successful response', () => {
  let clientId: string;
  let clientSecret: string;
  beforeAll(async () => {
    ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read', 'reports:write', 'users:read']));
  });

  test('RFC 6749 §5.1: exactly access_token, token_type Bearer, expires_in, scope, and no refresh_token (§4.4.3)', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    expect(res.body).toEqual({
      access_token: expect.stringMatching(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/),
      token_type: 'Bearer',
      expires_in: 900,
      scope: 'reports:read reports:write users:read',
    });
    expect(res.body).not.toHaveProperty('refresh_token');
  });

  test('RFC 6749 §5.1: Cache-Control: no-store and Pragma: no-cache on success', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
  });

  test('RFC 6749 §5.1: Cache-Control: no-store and Pragma: no-cache on errors too', async () => {
    const responses = [
      await tokenRequest(server.app, clientId, 'wrong-secret-value'),
      await tokenRequest(server.app, clientId, clientSecret, { scope: 'admin' }),
      await request(server.app).post('/oauth/token').send({ grant_type: 'client_credentials' }),
      await request(server.app).get('/oauth/token'),
    ];
    for (const res of responses) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.pragma).toBe('no-cache');
    }
  });

  test('RFC 6749 §3.3: an omitted scope grants every allowed scope', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret);
    expect(res.body.scope).toBe('reports:read reports:write users:read');
    expect(decodeJwt(res.body.access_token).payload.scope).toBe('reports:read reports:write users:read');
  });

  test('RFC 6749 §3.3: an empty scope parameter counts as omitted (§3.1)', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret, { scope: '' });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('reports:read reports:write users:read');
  });

  test('RFC 6749 §3.3: a subset of the allowed scopes is granted as asked, in the order asked', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret, { scope: 'users:read reports:read' });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('users:read reports:read');
    expect(decodeJwt(res.body.access_token).payload.scope).toBe('users:read reports:read');
  });

  test('RFC 6749 §3.3: a scope asked twice is granted once', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret, { scope: 'reports:read reports:read' });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('reports:read');
  });

  test('RFC 6749 §3.3: a scope the client is not allowed is invalid_scope', async () => {
    expectTokenError(await tokenRequest(server.app, clientId, clientSecret, { scope: 'admin' }), 400, 'invalid_scope');
    expectTokenError(await tokenRequest(server.app, clientId, clientSecret, { scope: 'reports:read admin' }), 400, 'invalid_scope');
  });

  test.each([
    ['a double space', 'reports:read  users:read'],
    ['a leading space', ' reports:read'],
    ['a trailing space', 'reports:read '],
    ['a tab', 'reports:read\tusers:read'],
    ['a double quote', 'reports:"read'],
    ['a backslash', 'reports\\read'],
    ['a non-ASCII character', 'réports'],
  ])('RFC 6749 §3.3: a malformed scope (%s) is invalid_scope', async (_label, scope) => {
    expectTokenError(await tokenRequest(server.app, clientId, clientSecret, { scope }), 400, 'invalid_scope');
  });

  test('RFC 6749 §3.3: a client without any scope and no scope parameter is invalid_scope', async () => {
    const { client, clientSecret: secret } = await server.auth.registry.createClient({ name: 'no scopes' });
    expectTokenError(await tokenRequest(server.app, client.clientId, secret as string), 400, 'invalid_scope');
  });

  test('RFC 6749 §3.3: removing a group scope stops it being granted at once', async () => {
    const c = await seedClient(server.auth, ['a:1', 'a:2']);
    expect((await tokenRequest(server.app, c.clientId, c.clientSecret)).body.scope).toBe('a:1 a:2');
    await server.auth.registry.removeGroupScopes(c.group, ['a:2']);
    expect((await tokenRequest(server.app, c.clientId, c.clientSecret)).body.scope).toBe('a:1');
    expectTokenError(await tokenRequest(server.app, c.clientId, c.clientSecret, { scope: 'a:2' }), 400, 'invalid_scope');
  });

  test('a token longer than the guards accept (maxTokenLength) is never issued: invalid_scope saying so; fewer scopes work', async () => {
    const scopes = Array.from({ length: 30 }, (_, i) => `very-long-scope-name-${'x'.repeat(100)}-${i}`);
    const c = await seedClient(server.auth, scopes);
    const all = await tokenRequest(server.app, c.clientId, c.clientSecret);
    expectTokenError(all, 400, 'invalid_scope');
    expect(all.body.error_description).toMatch(/more than the 4096 the resource servers accept: request fewer scopes/);
    const few = await tokenRequest(server.app, c.clientId, c.clientSecret, { scope: scopes.slice(0, 3).join(' ') });
    expect(few.status).toBe(200);
    expect((few.body as { access_token: string }).access_token.length).toBeLessThanOrEqual(4096);
    // And its own guard accepts what it issued.
    expect((await bearerGet(server.app, (few.body as { access_token: string }).access_token, '/api/whoami')).status).toBe(200);
  });
});

describe('RFC 9068 JWT access token', () => {
  let clientId: string;
  let clientSecret: string;
  beforeAll(async () => {
    ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read', 'users:read']));
  });

  test('RFC 9068 §2.1: header typ at+jwt, alg RS256 by default, and the kid of the active registry key', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret);
    const { header } = decodeJwt(res.body.access_token);
    const active = (await server.auth.registry.listKeys()).filter((k) => k.status === 'active' && k.alg === 'RS256');
    expect(active).toHaveLength(1);
    expect(header).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: active[0].kid });
  });

  test('RFC 9068 §2.2: claims iss, sub = client_id, aud, exp, iat, jti, client_id and a scope string', async () => {
    const before = nowSeconds();
    const res = await tokenRequest(server.app, clientId, clientSecret, { scope: 'users:read reports:read' });
    const after = nowSeconds();
    const { payload } = decodeJwt(res.body.access_token);
    expect(payload).toEqual({
      iss: ISSUER,
      sub: clientId,
      aud: ISSUER,
      exp: payload.iat + 900,
      iat: expect.any(Number),
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{16,}$/),
      client_id: clientId,
      scope: 'users:read reports:read',
    });
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.iat).toBeLessThanOrEqual(after);
  });

  test('RFC 9068 §2.2: every token has a distinct jti', async () => {
    const jtis = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const res = await tokenRequest(server.app, clientId, clientSecret);
      jtis.add(decodeJwt(res.body.access_token).payload.jti);
    }
    expect(jtis.size).toBe(5);
  });

  test('RFC 7515 §5.2: the signature verifies with the published public key (jsonwebtoken)', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret);
    const { header } = decodeJwt(res.body.access_token);
    const key = (await server.auth.registry.listKeys()).find((k) => k.kid === header.kid)!;
    const publicKey = createPublicKey({ key: { ...key.publicJwk }, format: 'jwk' });
    const claims = jwt.verify(res.body.access_token, publicKey, { algorithms: ['RS256'], issuer: ISSUER, audience: ISSUER }) as jwt.JwtPayload;
    expect(claims.client_id).toBe(clientId);
  });

  test('RFC 7519 §4.1.4: a per-client ttl is honoured in expires_in and exp - iat', async () => {
    await server.auth.registry.createGroup('ttl-g', ['reports:read']);
    const { client, clientSecret: secret } = await server.auth.registry.createClient({ name: 'short', groups: ['ttl-g'], tokenTtl: 42 });
    const res = await tokenRequest(server.app, client.clientId, secret as string);
    expect(res.body.expires_in).toBe(42);
    const { payload } = decodeJwt(res.body.access_token);
    expect(payload.exp - payload.iat).toBe(42);
  });

  test('RFC 7519 §4.1.4: without a per-client ttl the server default applies', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret);
    expect(res.body.expires_in).toBe(900);
    const { payload } = decodeJwt(res.body.access_token);
    expect(payload.exp - payload.iat).toBe(900);
  });

  test('RFC 9068 §3: the issued token is accepted by the guard of the same instance', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret);
    const ok = await bearerGet(server.app, res.body.access_token);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ client: clientId, scopes: ['reports:read', 'users:read'] });
  });

  test('the signing key records how long its tokens live (signed_until), so a rotation keeps it published', async () => {
    const res = await tokenRequest(server.app, clientId, clientSecret);
    const { header, payload } = decodeJwt(res.body.access_token);
    const key = (await server.auth.registry.listKeys()).find((k) => k.kid === header.kid)!;
    expect(key.signedUntil).not.toBeNull();
    expect(key.signedUntil!).toBeGreaterThanOrEqual(payload.exp);
  });
});

describe('server options', () => {
  test('RFC 7518 §3.4: with algorithm ES256 the token is ES256-signed, with a 64-byte raw signature', async () => {
    const es = createTestServer({ algorithm: 'ES256', tokenLifetime: 120 });
    try {
      const c = await seedClient(es.auth, ['reports:read']);
      const res = await tokenRequest(es.app, c.clientId, c.clientSecret);
      expect(res.status).toBe(200);
      expect(res.body.expires_in).toBe(120);
      const { header, signature, payload } = decodeJwt(res.body.access_token);
      const key = (await es.auth.registry.listKeys()).find((k) => k.kid === header.kid)!;
      expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: key.kid });
      expect(key.alg).toBe('ES256');
      expect(Buffer.from(signature, 'base64url')).toHaveLength(64);
      expect(payload.exp - payload.iat).toBe(120);
      const publicKey = createPublicKey({ key: { ...key.publicJwk }, format: 'jwk' });
      expect(() => jwt.verify(res.body.access_token, publicKey, { algorithms: ['ES256'] })).not.toThrow();
      const guarded = await bearerGet(es.app, res.body.access_token);
      expect(guarded.status).toBe(200);
    } finally {
      await es.close();
    }
  });

  test('RFC 9068 §2.2: a custom audience is the aud claim, and the guard accepts it', async () => {
    const s = createTestServer({ audience: ['https://api.test', 'https://other.test'] });
    try {
      const c = await seedClient(s.auth, ['reports:read']);
      const res = await tokenRequest(s.app, c.clientId, c.clientSecret);
      expect(decodeJwt(res.body.access_token).payload.aud).toEqual(['https://api.test', 'https://other.test']);
      expect((await bearerGet(s.app, res.body.access_token)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  test('many concurrent first requests on a fresh server all get tokens (one signing key is created)', async () => {
    const s = createTestServer();
    try {
      const c = await seedClient(s.auth, ['reports:read']);
      const results = await Promise.all(Array.from({ length: 25 }, () => tokenRequest(s.app, c.clientId, c.clientSecret)));
      expect(results.map((r) => r.status)).toEqual(Array(25).fill(200));
      const kids = new Set(results.map((r) => decodeJwt(r.body.access_token).header.kid));
      expect(kids.size).toBe(1);
      expect((await s.auth.registry.listKeys()).filter((k) => k.alg === 'RS256')).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});
