/** RFC 6750 §3.1 insufficient_scope, req.auth, and the registry's live word on revocation and clients. */
import express from 'express';
import request from 'supertest';
import { bearerGet, ERROR_DESCRIPTION_CHARS, getToken, parseChallenge } from '../support/oauth';
import { claimsFor, decodeJwt, signJws } from '../support/jwt';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
beforeAll(() => {
  server = createTestServer();
});
afterAll(() => server.close());

const bearer = (token: string) => `Bearer ${token}`;

describe('scopes', () => {
  let readToken: string;
  let writeToken: string;
  let bothToken: string;
  let clientId: string;
  beforeAll(async () => {
    const c = await seedClient(server.auth, ['reports:read', 'reports:write', 'users:read']);
    clientId = c.clientId;
    readToken = await getToken(server, c.clientId, c.clientSecret, 'reports:read');
    writeToken = await getToken(server, c.clientId, c.clientSecret, 'reports:write');
    bothToken = await getToken(server, c.clientId, c.clientSecret, 'reports:read reports:write');
  });

  test('RFC 6750 §3.1: a token lacking the scope is 403 insufficient_scope with scope="reports:write"', async () => {
    const res = await request(server.app).post('/api/reports').set('Authorization', bearer(readToken));
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'insufficient_scope', error_description: expect.stringMatching(ERROR_DESCRIPTION_CHARS) });
    const challenge = parseChallenge(res.headers['www-authenticate']);
    expect(challenge.scheme).toBe('Bearer');
    expect(challenge.params).toEqual({
      realm: 'ccgate',
      error: 'insufficient_scope',
      error_description: res.body.error_description,
      scope: 'reports:write',
    });
  });

  test('RFC 6750 §3.1: a token with the scope passes requireScope', async () => {
    const res = await request(server.app).post('/api/reports').set('Authorization', bearer(writeToken));
    expect(res.status).toBe(201);
    expect(res.body.client).toBe(clientId);
  });

  test('RFC 6750 §3: requireScope with several scopes needs all of them, and names all in the challenge', async () => {
    const app = express();
    app.get('/both', server.auth.requireScope('reports:read', 'reports:write'), (_req, res) => res.json({ ok: true }));
    const denied = await bearerGet(app, readToken, '/both');
    expect(denied.status).toBe(403);
    expect(parseChallenge(denied.headers['www-authenticate']).params.scope).toBe('reports:read reports:write');
    expect((await bearerGet(app, bothToken, '/both')).status).toBe(200);
  });

  test('RFC 6750 §3: requireAnyScope accepts any one of its scopes', async () => {
    const r1 = await bearerGet(server.app, readToken, '/api/any');
    const r2 = await bearerGet(server.app, writeToken, '/api/any');
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(r1.body.scopes).toEqual(['reports:read']);
    expect(r2.body.scopes).toEqual(['reports:write']);
  });

  test('RFC 6750 §3.1: requireAnyScope refuses a token with none of them, listing them all', async () => {
    const c = await seedClient(server.auth, ['users:read']);
    const token = await getToken(server, c.clientId, c.clientSecret);
    const res = await bearerGet(server.app, token, '/api/any');
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
    expect(parseChallenge(res.headers['www-authenticate']).params.scope).toBe('reports:read reports:write');
  });

  test('RFC 6750 §3.1: authenticate() accepts any valid token whatever its scopes', async () => {
    for (const token of [readToken, writeToken]) {
      const res = await bearerGet(server.app, token, '/api/whoami');
      expect(res.status).toBe(200);
    }
  });

  test('authenticate() accepts a valid token with an empty scope claim; requireScope refuses it', async () => {
    // Hand-made: the endpoint never issues an empty scope, but a valid token may carry one.
    const key = (await server.auth.registry.listKeys()).find((k) => k.status === 'active' && k.alg === 'RS256')!;
    const token = signJws(key.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: key.kid }, claimsFor(clientId, { scope: '' }));
    const who = await bearerGet(server.app, token, '/api/whoami');
    expect(who.status).toBe(200);
    expect(who.body.auth.claims.scope).toBe('');
    expect((await bearerGet(server.app, token)).status).toBe(403);
  });

  test('req.auth has clientId, scopes, claims, token, and how it was presented (a bearer token: no key)', async () => {
    const app = express();
    app.get('/auth', server.auth.authenticate(), (req, res) => res.json(req.auth));
    const res = await bearerGet(app, bothToken, '/auth');
    expect(res.status).toBe(200);
    const { payload } = decodeJwt(bothToken);
    expect(res.body).toEqual({ clientId, scopes: ['reports:read', 'reports:write'], claims: payload, token: bothToken, tokenType: 'Bearer', jkt: null });
  });

  test('a route scope that breaks RFC 6749 §3.3 is refused when the route is built', () => {
    expect(() => server.auth.requireScope()).toThrow(TypeError);
    expect(() => server.auth.requireScope('has space')).toThrow(TypeError);
    expect(() => server.auth.requireAnyScope('quote"')).toThrow(TypeError);
  });

  test('a failed check leaves req.auth unset for later middleware', async () => {
    const app = express();
    let seen: unknown = 'untouched';
    app.get('/x', server.auth.requireScope('admin'), (_req, res) => res.json({}));
    app.use((req, _res, next) => {
      seen = req.auth;
      next();
    });
    const res = await bearerGet(app, readToken, '/x');
    expect(res.status).toBe(403);
    expect(seen).toBe('untouched'); // the guard answered; nothing further ran
  });
});

describe('live status from the registry', () => {
  test('RFC 7009 §2: revoking the jti makes the next request 401 although the token was cached as verified', async () => {
    const c = await seedClient(server.auth, ['reports:read']);
    const token = await getToken(server, c.clientId, c.clientSecret);
    // Twice: the second request is served from the verified-token cache.
    expect((await bearerGet(server.app, token)).status).toBe(200);
    expect((await bearerGet(server.app, token)).status).toBe(200);
    const { jti, exp } = decodeJwt(token).payload;
    await server.auth.registry.revokeToken({ jti, clientId: c.clientId, expiresAt: exp });
    const res = await bearerGet(server.app, token);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'The access token was revoked.' });
    expect(parseChallenge(res.headers['www-authenticate']).params.error).toBe('invalid_token');
  });

  test("revoking one token leaves the client's other tokens valid", async () => {
    const c = await seedClient(server.auth, ['reports:read']);
    const a = await getToken(server, c.clientId, c.clientSecret);
    const b = await getToken(server, c.clientId, c.clientSecret);
    const { jti, exp } = decodeJwt(a).payload;
    await server.auth.registry.revokeToken({ jti, clientId: c.clientId, expiresAt: exp });
    expect((await bearerGet(server.app, a)).status).toBe(401);
    expect((await bearerGet(server.app, b)).status).toBe(200);
  });

  test('RFC 6750 §3.1: disabling the client makes its tokens 401 on the next request; re-enabling restores them', async () => {
    const c = await seedClient(server.auth, ['reports:read']);
    const token = await getToken(server, c.clientId, c.clientSecret);
    expect((await bearerGet(server.app, token)).status).toBe(200);
    await server.auth.registry.setClientEnabled(c.clientId, false);
    const off = await bearerGet(server.app, token);
    expect(off.status).toBe(401);
    expect(off.body).toEqual({ error: 'invalid_token', error_description: 'The client of this access token is disabled.' });
    await server.auth.registry.setClientEnabled(c.clientId, true);
    expect((await bearerGet(server.app, token)).status).toBe(200);
  });

  test('RFC 6750 §3.1: deleting the client makes its tokens 401 on the next request', async () => {
    const c = await seedClient(server.auth, ['reports:read']);
    const token = await getToken(server, c.clientId, c.clientSecret);
    expect((await bearerGet(server.app, token)).status).toBe(200);
    await server.auth.registry.deleteClient(c.clientId);
    const res = await bearerGet(server.app, token);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'The client of this access token no longer exists.' });
  });

  test("a token's scopes are those it was issued with, not the client's current ones", async () => {
    const c = await seedClient(server.auth, ['reports:read']);
    const token = await getToken(server, c.clientId, c.clientSecret);
    await server.auth.registry.addGroupScopes(c.group, ['reports:write']);
    expect((await request(server.app).post('/api/reports').set('Authorization', bearer(token))).status).toBe(403);
  });
});
