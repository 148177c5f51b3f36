/**
 * Interoperability, resource-server side: third-party JWT access token validators accept
 * ccgate-issued tokens (RFC 9068 profile, keys from the RFC 7517 set found through RFC 8414
 * metadata) and refuse bad ones. jose and oauth4webapi are ESM-only and run in .mjs child
 * processes (test/standards/interop/); express-oauth2-jwt-bearer is CommonJS and protects a real
 * Express route in-process.
 */
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { API_AUDIENCE } from '../support/constants';
import { listen, type Listening } from '../support/http';
import { callApi, issueToken } from '../support/oauth';
import { claimsFrom, decodeJwt, foreignKey, signJws } from '../support/jwt';
import { seedClient, type SeededClient } from '../support/clients';
import { startIssuer, type TestIssuer } from '../support/servers';
import { runInterop } from '../support/interop';
import { nowSeconds } from '../support/time';

// Loaded with require and typed by hand: its type declarations augment Express's Request with an
// `auth` member that conflicts with ccgate's own augmentation under tsc.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jwtBearer = require('express-oauth2-jwt-bearer') as {
  auth(options: Record<string, unknown>): RequestHandler;
  requiredScopes(scopes: string | string[]): RequestHandler;
};

interface Verdict {
  ok: boolean;
  code?: string;
  message?: string;
  payload?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  protectedHeader?: Record<string, unknown>;
}

/** Good and bad tokens from one issuer, named. */
async function tokenZoo(issuer: TestIssuer, client: SeededClient) {
  const good = await issueToken(issuer, client);
  const kid = decodeJwt(good).header.kid as string;
  const key = (await issuer.auth.registry.listKeys()).find((k) => k.kid === kid)!;
  const alg = key.alg;
  const own = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    signJws(key.privateKeyPem, alg, { alg, typ: 'at+jwt', kid, ...header }, claims);
  const now = nowSeconds();
  return {
    good,
    expired: own(claimsFrom(issuer.issuer, client.clientId, { iat: now - 600, exp: now - 300 })),
    otherAudience: own(claimsFrom(issuer.issuer, client.clientId, { aud: 'https://other-api.test' })),
    otherIssuer: own(claimsFrom('https://evil.example', client.clientId)),
    plainJwtTyp: own(claimsFrom(issuer.issuer, client.clientId), { typ: 'JWT' }),
    forged: signJws(foreignKey().privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid }, claimsFrom(issuer.issuer, client.clientId)),
  };
}

describe.each(['RS256', 'ES256'] as const)('interop: third-party validators accept ccgate %s access tokens', (algorithm) => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let zoo: Awaited<ReturnType<typeof tokenZoo>>;
  beforeAll(async () => {
    issuer = await startIssuer({ algorithm });
    client = await seedClient(issuer.auth, ['reports:read']);
    zoo = await tokenZoo(issuer, client);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test("jose: jwtVerify + createRemoteJWKSet (jwks_uri from the metadata), issuer, audience, typ 'at+jwt'", async () => {
    const names = Object.keys(zoo) as Array<keyof typeof zoo>;
    const out = await runInterop<{ jwksUri: string; results: Verdict[]; failed?: unknown }>('jose-verify.mjs', {
      issuer: issuer.issuer,
      audience: API_AUDIENCE,
      tokens: names.map((n) => zoo[n]),
    });
    expect(out.failed).toBeUndefined();
    expect(out.jwksUri).toBe(`${issuer.endpoints}/jwks`);
    const byName = Object.fromEntries(names.map((n, i) => [n, out.results[i]]));
    expect(byName.good).toMatchObject({
      ok: true,
      protectedHeader: { alg: algorithm, typ: 'at+jwt' },
      payload: { client_id: client.clientId, scope: 'reports:read' },
    });
    expect(byName.expired).toMatchObject({ ok: false, code: 'ERR_JWT_EXPIRED' });
    expect(byName.otherAudience).toMatchObject({ ok: false, code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' } as Verdict);
    expect(byName.otherIssuer).toMatchObject({ ok: false, code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' } as Verdict);
    expect(byName.plainJwtTyp).toMatchObject({ ok: false, code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'typ' } as Verdict);
    expect(byName.forged).toMatchObject({ ok: false });
  });

  test('oauth4webapi: validateJwtAccessToken (RFC 9068) after RFC 8414 discovery', async () => {
    const names = Object.keys(zoo) as Array<keyof typeof zoo>;
    const out = await runInterop<{ results: Verdict[]; failed?: unknown }>('oauth4webapi-validate.mjs', {
      issuer: issuer.issuer,
      audience: API_AUDIENCE,
      tokens: names.map((n) => zoo[n]),
    });
    expect(out.failed).toBeUndefined();
    const byName = Object.fromEntries(names.map((n, i) => [n, out.results[i]]));
    expect(byName.good).toMatchObject({ ok: true, claims: { iss: issuer.issuer, aud: API_AUDIENCE, client_id: client.clientId, sub: client.clientId } });
    for (const bad of ['expired', 'otherAudience', 'otherIssuer', 'plainJwtTyp', 'forged'] as const) {
      expect({ bad, ok: byName[bad].ok }).toEqual({ bad, ok: false });
    }
  });
});

describe('interop: express-oauth2-jwt-bearer protects an Express route with ccgate tokens', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let zoo: Awaited<ReturnType<typeof tokenZoo>>;
  let api: Listening;

  const errors: ErrorRequestHandler = (err: { status?: number; code?: string; headers?: Record<string, string> }, _req, res, _next) => {
    res
      .status(err.status ?? 500)
      .set(err.headers ?? {})
      .json({ error: err.code ?? 'server_error' });
  };

  beforeAll(async () => {
    issuer = await startIssuer();
    client = await seedClient(issuer.auth, ['reports:read']);
    zoo = await tokenZoo(issuer, client);
    const app = express();
    const discovered = jwtBearer.auth({ issuerBaseURL: issuer.issuer, audience: API_AUDIENCE, tokenSigningAlg: 'RS256', strict: true });
    const configured = jwtBearer.auth({
      issuer: issuer.issuer,
      jwksUri: `${issuer.endpoints}/jwks`,
      audience: API_AUDIENCE,
      tokenSigningAlg: 'RS256',
      strict: true,
    });
    const discoveredNoAlg = jwtBearer.auth({ issuerBaseURL: issuer.issuer, audience: API_AUDIENCE, strict: true });
    const show: RequestHandler = (req, res) => res.json({ sub: (req as unknown as { auth: { payload: { sub: string } } }).auth.payload.sub });
    app.get('/discovered/reports', discovered, jwtBearer.requiredScopes('reports:read'), show);
    app.get('/discovered/admin', discovered, jwtBearer.requiredScopes('admin'), show);
    app.get('/configured/reports', configured, jwtBearer.requiredScopes('reports:read'), show);
    app.get('/no-alg/reports', discoveredNoAlg, show);
    app.use(errors);
    api = await listen(app);
  });
  afterAll(async () => {
    await api.stop();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test.each(['discovered', 'configured'])('auth() (%s: issuerBaseURL, or issuer + jwksUri) accepts a ccgate token, strict RFC 9068 mode', async (mode) => {
    const res = await callApi(`${api.origin}/${mode}/reports`, zoo.good);
    expect({ status: res.status, body: res.json() }).toEqual({ status: 200, body: { sub: client.clientId } });
  });

  test('auth() with issuerBaseURL and no tokenSigningAlg accepts it too (RS256 is its default)', async () => {
    expect((await callApi(`${api.origin}/no-alg/reports`, zoo.good)).status).toBe(200);
  });

  test('requiredScopes reads the space-delimited scope claim: another scope is 403 insufficient_scope', async () => {
    const res = await callApi(`${api.origin}/discovered/admin`, zoo.good);
    expect(res.status).toBe(403);
    expect(res.json().error).toBe('insufficient_scope');
  });

  test.each(['expired', 'otherAudience', 'otherIssuer', 'plainJwtTyp', 'forged'] as const)('refuses a bad token: %s (401)', async (name) => {
    const res = await callApi(`${api.origin}/discovered/reports`, zoo[name]);
    expect(res.status).toBe(401);
    expect(res.json().error).toBe('invalid_token');
  });

  test('no token: 401', async () => {
    expect((await callApi(`${api.origin}/discovered/reports`)).status).toBe(401);
  });
});
