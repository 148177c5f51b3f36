/** Guard options: clock tolerance (RFC 7519 §4.1.4 / §4.1.5) and error delivery through next(). */
import { NO_TOKEN_CHALLENGE } from '../support/constants';
import express, { type ErrorRequestHandler } from 'express';
import request from 'supertest';
import { OAuthError, InsufficientScopeError, InvalidTokenError, MissingTokenError, InvalidBearerRequestError } from '../../lib';
import { nowSeconds } from '../support/time';
import { bearerGet, getToken, parseChallenge } from '../support/oauth';
import { claimsFor, signJws } from '../support/jwt';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

async function handMade(server: TestServer, clientId: string, overrides: Record<string, unknown>): Promise<string> {
  const key = await server.auth.registry.ensureSigningKey('RS256');
  return signJws(key.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: key.kid }, claimsFor(clientId, overrides));
}

describe('clock tolerance', () => {
  let lenient: TestServer;
  let strict: TestServer;
  let lenientClient: string;
  let strictClient: string;
  beforeAll(async () => {
    lenient = createTestServer();
    strict = createTestServer({ clockTolerance: 0 });
    lenientClient = (await seedClient(lenient.auth)).clientId;
    strictClient = (await seedClient(strict.auth)).clientId;
    // The signing keys exist before any test takes its `now`: a hand-made token's exp is seconds from it.
    await Promise.all([lenient.auth.ready(), strict.auth.ready()]);
  });
  afterAll(async () => {
    await lenient.close();
    await strict.close();
  });

  test('RFC 7519 §4.1.4: exp 3 s in the past passes with the default tolerance (5 s)', async () => {
    const now = nowSeconds();
    const token = await handMade(lenient, lenientClient, { iat: now - 60, exp: now - 3 });
    const res = await bearerGet(lenient.app, token);
    expect(res.status).toBe(200);
  });

  test('RFC 7519 §4.1.4: exp 3 s in the past fails with clockTolerance 0', async () => {
    const now = nowSeconds();
    const token = await handMade(strict, strictClient, { iat: now - 60, exp: now - 3 });
    const res = await bearerGet(strict.app, token);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'The access token expired.' });
  });

  test('RFC 7519 §4.1.4: exp well past the tolerance fails with the default tolerance too', async () => {
    const now = nowSeconds();
    const token = await handMade(lenient, lenientClient, { iat: now - 120, exp: now - 30 });
    expect((await bearerGet(lenient.app, token)).status).toBe(401);
  });

  test('RFC 7519 §4.1.5: nbf 2 s ahead passes with the default tolerance and fails with 0', async () => {
    const now = nowSeconds();
    const a = await handMade(lenient, lenientClient, { nbf: now + 2 });
    expect((await bearerGet(lenient.app, a)).status).toBe(200);
    const b = await handMade(strict, strictClient, { nbf: now + 30 });
    const res = await bearerGet(strict.app, b);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toMatch(/not valid yet/);
  });

  test('RFC 7519 §4.1.5: nbf far in the future fails even with the default tolerance', async () => {
    const token = await handMade(lenient, lenientClient, { nbf: nowSeconds() + 600 });
    const res = await bearerGet(lenient.app, token);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
  });
});

describe("guardErrors: 'next'", () => {
  let server: TestServer;
  let token: string;
  const seen: unknown[] = [];
  let app: express.Express;
  beforeAll(async () => {
    server = createTestServer({ guardErrors: 'next' });
    const c = await seedClient(server.auth, ['reports:read']);
    token = await getToken(server, c.clientId, c.clientSecret);
    app = express();
    app.get('/read', server.auth.requireScope('reports:read'), (req, res) => res.json({ client: req.auth?.clientId }));
    app.get('/write', server.auth.requireScope('reports:write'), (_req, res) => res.json({}));
    const spy: ErrorRequestHandler = (err, _req, _res, next) => {
      seen.push(err);
      next(err);
    };
    app.use(spy);
    app.use(server.auth.errorHandler);
  });
  afterAll(() => server.close());
  beforeEach(() => {
    seen.length = 0;
  });

  test('RFC 6750 §3.1: a missing token reaches the app error handler as an OAuthError (401, bare challenge)', async () => {
    const res = await request(app).get('/read');
    expect(seen).toHaveLength(1);
    const err = seen[0] as OAuthError;
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toBeInstanceOf(MissingTokenError);
    expect(err.status).toBe(401);
    expect(err.headers).toEqual({ 'WWW-Authenticate': NO_TOKEN_CHALLENGE });
    // auth.errorHandler answers it exactly like the 'respond' mode would.
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(NO_TOKEN_CHALLENGE);
    expect(res.body).toEqual({});
  });

  test('RFC 6750 §3.1: an invalid token reaches the handler as InvalidTokenError and is answered as JSON', async () => {
    const res = await request(app).get('/read').set('Authorization', 'Bearer not.a.token');
    const err = seen[0] as OAuthError;
    expect(err).toBeInstanceOf(InvalidTokenError);
    expect(err.status).toBe(401);
    expect(err.code).toBe('invalid_token');
    expect(err.headers['WWW-Authenticate']).toMatch(/^Bearer realm="ccgate", error="invalid_token"/);
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: err.message });
    expect(res.headers['www-authenticate']).toBe(err.headers['WWW-Authenticate']);
  });

  test('RFC 6750 §3.1: insufficient scope reaches the handler as a 403 with the scope in its challenge', async () => {
    const res = await bearerGet(app, token, '/write');
    const err = seen[0] as OAuthError;
    expect(err).toBeInstanceOf(InsufficientScopeError);
    expect(err.status).toBe(403);
    expect(parseChallenge(err.headers['WWW-Authenticate']).params.scope).toBe('reports:write');
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
    expect(parseChallenge(res.headers['www-authenticate']).params.scope).toBe('reports:write');
  });

  test('RFC 6750 §3.1: a malformed request reaches the handler as InvalidBearerRequestError (400)', async () => {
    const res = await request(app).get('/read').set('Authorization', 'Bearer a b');
    expect(seen[0]).toBeInstanceOf(InvalidBearerRequestError);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  test('a valid token passes through without touching the error handler', async () => {
    const res = await bearerGet(app, token, '/read');
    expect(res.status).toBe(200);
    expect(seen).toEqual([]);
  });

  test('the app may answer the OAuthError its own way', async () => {
    const own = express();
    own.get('/read', server.auth.requireScope('reports:read'), (_req, res) => res.json({}));
    own.use(((err, _req, res, _next) => {
      const e = err as OAuthError;
      res.status(e.status).set(e.headers).json({ custom: true, code: e.code });
    }) as ErrorRequestHandler);
    const res = await request(own).get('/read').set('Authorization', 'Bearer x.y.z');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ custom: true, code: 'invalid_token' });
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  test("without guardErrors: 'next' the guard answers itself and the app handler never runs", async () => {
    const respond = createTestServer();
    try {
      const own = express();
      const got: unknown[] = [];
      own.get('/read', respond.auth.requireScope('reports:read'), (_req, res) => res.json({}));
      own.use(((err, _req, res, _next) => {
        got.push(err);
        res.status(599).end();
      }) as ErrorRequestHandler);
      const res = await request(own).get('/read');
      expect(res.status).toBe(401);
      expect(got).toEqual([]);
    } finally {
      await respond.close();
    }
  });
});
