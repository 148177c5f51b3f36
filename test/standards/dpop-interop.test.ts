/**
 * RFC 9449 DPoP interoperability on loopback. Clients: oauth4webapi's DPoP() handle and openid-client
 * v6's getDPoPHandle (ESM-only, run as .mjs child processes) get DPoP-bound tokens from a real ccgate
 * issuer, retrying on use_dpop_nonce when the issuer (§8) or the API (§9) asks for nonces, and call
 * APIs guarded by ccgate's local guard, remoteGuard and Auth0's express-oauth2-jwt-bearer. Validators:
 * express-oauth2-jwt-bearer accepts a ccgate DPoP token with a proof made by node:crypto; ccgate's
 * guard refuses proofs made with jose's SignJWT that are wrong in one way each.
 */
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { remoteGuard, type Guard } from '../../lib';
import { seedClient, type SeededClient } from '../support/clients';
import { API_AUDIENCE } from '../support/constants';
import { dpopKey, dpopTokenRequest, type DpopKey } from '../support/dpop';
import { athOf, boundToken, dpopCall, expectDpopError, privateJwkOf, resourceProof } from '../support/dpop-proofs';
import { listen, type Listening } from '../support/http';
import { runInterop } from '../support/interop';
import { decodeJwt } from '../support/jwt';
import { issueToken } from '../support/oauth';
import { startIssuer, type TestIssuer } from '../support/servers';
import { nowSeconds } from '../support/time';

// Loaded with require and typed by hand: its type declarations augment Express's Request with an
// `auth` member that conflicts with ccgate's own augmentation under tsc.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jwtBearer = require('express-oauth2-jwt-bearer') as {
  auth(options: Record<string, unknown>): RequestHandler;
  requiredScopes(scopes: string | string[]): RequestHandler;
};

const RESOURCE_NONCE_SECRET = 'resource-nonce-secret-for-the-interop-api';

/** ccgate's guards answer who called and how; Auth0's, the token's client and cnf. */
const ccgateEcho: RequestHandler = (req, res) => res.json({ clientId: req.auth?.clientId, tokenType: req.auth?.tokenType, jkt: req.auth?.jkt });
const auth0Echo: RequestHandler = (req, res) => {
  const payload = (req as unknown as { auth: { payload: { client_id: string; cnf?: { jkt: string } } } }).auth.payload;
  res.json({ clientId: payload.client_id, jkt: payload.cnf?.jkt ?? null });
};

/** express-oauth2-jwt-bearer's errors as JSON, with its WWW-Authenticate. */
const auth0Errors: ErrorRequestHandler = (err: { status?: number; code?: string; headers?: Record<string, string> }, _req, res, _next) => {
  res
    .status(err.status ?? 500)
    .set(err.headers ?? {})
    .json({ error: err.code ?? 'server_error' });
};

/** An API on its own port: /reports behind `guard` (reports:read). */
async function startGuardedApi(guard: Guard): Promise<Listening> {
  const app = express();
  app.get('/reports', guard.requireScope('reports:read'), ccgateEcho);
  return listen(app);
}

/** An API on its own port guarded by express-oauth2-jwt-bearer: /optional (DPoP enabled) and /required (DPoP required). */
async function startAuth0Api(issuer: TestIssuer): Promise<Listening> {
  const app: Express = express();
  const base = { issuerBaseURL: issuer.issuer, audience: API_AUDIENCE };
  app.get('/optional', jwtBearer.auth({ ...base, dpop: { enabled: true } }), jwtBearer.requiredScopes('reports:read'), auth0Echo);
  app.get('/required', jwtBearer.auth({ ...base, dpop: { enabled: true, required: true } }), jwtBearer.requiredScopes('reports:read'), auth0Echo);
  app.get(
    '/configured',
    jwtBearer.auth({ issuer: issuer.issuer, jwksUri: `${issuer.endpoints}/jwks`, audience: API_AUDIENCE, dpop: { enabled: true } }),
    auth0Echo,
  );
  app.use(auth0Errors);
  return listen(app);
}

interface Deployment {
  issuer: TestIssuer;
  client: SeededClient;
  /** ccgate's local guard (the issuer's ccgate()) on a port of its own. */
  local: Listening;
  remote: Listening;
  auth0: Listening;
  stop(): Promise<void>;
}

/** An issuer and three APIs; with `nonces`, the issuer's token endpoint and its local guard both ask for DPoP nonces. */
async function deploy(nonces: boolean): Promise<Deployment> {
  const issuer = await startIssuer({
    throttle: false,
    ...(nonces ? { dpop: { nonces: true }, guardDpop: { nonceSecret: RESOURCE_NONCE_SECRET } } : {}),
  });
  const client = await seedClient(issuer.auth, ['reports:read']);
  const local = await startGuardedApi(issuer.auth);
  const remote = await startGuardedApi(
    remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE, ...(nonces ? { dpop: { nonceSecret: RESOURCE_NONCE_SECRET } } : {}) }),
  );
  const auth0 = await startAuth0Api(issuer);
  return {
    issuer,
    client,
    local,
    remote,
    auth0,
    async stop() {
      await Promise.all([local.stop(), remote.stop(), auth0.stop()]);
      await issuer.close();
    },
  };
}

/** The inputs of both client scripts for a deployment. */
const clientInput = (d: Deployment) => ({
  issuer: d.issuer.issuer,
  clientId: d.client.clientId,
  clientSecret: d.client.clientSecret,
  scope: 'reports:read',
  resources: [`${d.local.origin}/reports`, `${d.remote.origin}/reports`, `${d.auth0.origin}/optional`, `${d.auth0.origin}/required`],
});

describe.each([
  ['without nonces', false],
  ['with nonces at the token endpoint (§8) and at ccgate APIs (§9)', true],
] as const)('interop: DPoP clients against ccgate, %s', (_name, nonces) => {
  let d: Deployment;
  beforeAll(async () => {
    d = await deploy(nonces);
  });
  afterAll(() => d.stop());
  afterEach(() => expect(d.issuer.serverErrors).toEqual([]));

  test('oauth4webapi DPoP(): clientCredentialsGrantRequest gets a DPoP-bound token, protectedResourceRequest is accepted by every guard', async () => {
    const out = await runInterop('dpop-oauth4webapi.mjs', clientInput(d));
    expect(out.failed).toBeUndefined();
    expect(out.metadata.dpop_signing_alg_values_supported).toEqual(['ES256', 'RS256', 'PS256']);
    // oauth4webapi lower-cases token_type (RFC 6749 §5.1: case-insensitive).
    expect(out.tokens).toMatchObject({ token_type: 'dpop', scope: 'reports:read', expires_in: 900 });
    expect(decodeJwt(out.tokens.access_token).payload).toMatchObject({ client_id: d.client.clientId, cnf: { jkt: out.jkt } });
    // RFC 9449 §8: the first token request is answered use_dpop_nonce; the retry carries the cached nonce.
    expect(out.tokenRetry).toEqual(nonces ? expect.objectContaining({ error: 'use_dpop_nonce', status: 400 }) : null);
    const [local, remote, optional, required] = out.resources;
    for (const [entry, name] of [
      [local, 'local guard'],
      [remote, 'remoteGuard'],
    ] as const) {
      expect({ name, failed: entry.failed, first: entry.first, second: entry.second }).toEqual({
        name,
        failed: undefined,
        first: { status: 200, body: { clientId: d.client.clientId, tokenType: 'DPoP', jkt: out.jkt }, dpopNonce: nonces ? expect.any(String) : null },
        second: { status: 200, body: { clientId: d.client.clientId, tokenType: 'DPoP', jkt: out.jkt }, dpopNonce: nonces ? expect.any(String) : null },
      });
      // RFC 9449 §9: 401 use_dpop_nonce in a DPoP challenge, once; the nonce of each answer serves the next request.
      if (nonces) {
        expect(entry.retry).toMatchObject({ name: 'WWWAuthenticateChallengeError', status: 401 });
        expect(entry.retry.challenges).toContainEqual(
          expect.objectContaining({ scheme: 'dpop', parameters: expect.objectContaining({ error: 'use_dpop_nonce' }) }),
        );
      } else {
        expect(entry.retry).toBeNull();
      }
      expect(entry.secondRetry).toBeNull();
    }
    // Auth0's validator knows no nonces: no retry, the proof is accepted as it is.
    for (const entry of [optional, required]) {
      expect({ failed: entry.failed, retry: entry.retry, first: entry.first }).toEqual({
        failed: undefined,
        retry: null,
        first: { status: 200, body: { clientId: d.client.clientId, jkt: out.jkt }, dpopNonce: null },
      });
    }
  });

  test('openid-client v6 getDPoPHandle: clientCredentialsGrant and fetchProtectedResource with DPoP, its own nonce retry included', async () => {
    const out = await runInterop('dpop-openid-client.mjs', clientInput(d));
    expect(out.failed).toBeUndefined();
    expect(out.tokens).toMatchObject({ token_type: 'dpop', scope: 'reports:read' });
    expect(decodeJwt(out.tokens.access_token).payload.cnf).toEqual({ jkt: out.jkt });
    for (const resource of out.resources.slice(0, 2)) {
      expect(resource).toEqual({ url: resource.url, status: 200, body: { clientId: d.client.clientId, tokenType: 'DPoP', jkt: out.jkt } });
    }
    for (const resource of out.resources.slice(2))
      expect(resource).toEqual({ url: resource.url, status: 200, body: { clientId: d.client.clientId, jkt: out.jkt } });
    // Every request carried a proof, and every resource request the DPoP scheme.
    expect(out.requests.every((r: { proof: boolean }) => r.proof)).toBe(true);
    const statuses = out.requests.map((r: { url: string; status: number; scheme?: string }) => [new URL(r.url).pathname, r.status, r.scheme ?? null]);
    const tokenCalls = nonces
      ? [
          ['/oauth/token', 400, 'Basic'],
          ['/oauth/token', 200, 'Basic'],
        ]
      : [['/oauth/token', 200, 'Basic']];
    const ccgateCalls = nonces
      ? [
          ['/reports', 401, 'DPoP'],
          ['/reports', 200, 'DPoP'],
        ]
      : [['/reports', 200, 'DPoP']];
    expect(statuses).toEqual([...tokenCalls, ...ccgateCalls, ...ccgateCalls, ['/optional', 200, 'DPoP'], ['/required', 200, 'DPoP']]);
  });
});

describe("interop: Auth0's express-oauth2-jwt-bearer (dpop enabled) accepts ccgate DPoP-bound tokens", () => {
  let d: Deployment;
  let key: DpopKey;
  let token: string;
  beforeAll(async () => {
    d = await deploy(false);
    key = dpopKey('ES256');
    token = await boundToken(d.issuer, d.client, key);
  });
  afterAll(() => d.stop());
  afterEach(() => expect(d.issuer.serverErrors).toEqual([]));

  test.each(['optional', 'required', 'configured'])('/%s: a ccgate DPoP token with a node:crypto proof (RFC 9449 §4.2, §7) is accepted', async (route) => {
    const url = `${d.auth0.origin}/${route}`;
    const res = await dpopCall(url, { token, proof: resourceProof(key, 'GET', url, token) });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { clientId: d.client.clientId, jkt: key.jkt } });
  });

  test.each(['RS256', 'PS256'] as const)('a token bound to a %s key is accepted too', async (alg) => {
    const rsa = dpopKey(alg);
    const bound = await boundToken(d.issuer, d.client, rsa);
    const url = `${d.auth0.origin}/optional`;
    const res = await dpopCall(url, { token: bound, proof: resourceProof(rsa, 'GET', url, bound) });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { clientId: d.client.clientId, jkt: rsa.jkt } });
  });

  // express-oauth2-jwt-bearer answers a proof for another URL 400 invalid_dpop_proof, a proof by another key 401
  // invalid_token, and a bearer token where DPoP is required a bare 400, where ccgate's guard answers 401 (RFC 9449
  // §7.1): its choices, asserted as they are.
  test('it refuses the bound token as Bearer, with a proof for another URL, and with a proof by another key', async () => {
    const url = `${d.auth0.origin}/optional`;
    const asBearer = await dpopCall(url, { token, scheme: 'Bearer' });
    expect({ status: asBearer.status, error: asBearer.body?.error }).toEqual({ status: 401, error: 'invalid_token' });
    const otherUrl = await dpopCall(url, { token, proof: resourceProof(key, 'GET', `${d.auth0.origin}/required`, token) });
    expect({ status: otherUrl.status, error: otherUrl.body?.error }).toEqual({ status: 400, error: 'invalid_dpop_proof' });
    const otherKey = await dpopCall(url, { token, proof: resourceProof(dpopKey('ES256'), 'GET', url, token) });
    expect({ status: otherKey.status, error: otherKey.body?.error }).toEqual({ status: 401, error: 'invalid_token' });
  });

  test('with dpop.required, it refuses a ccgate bearer token and accepts the bound one', async () => {
    const url = `${d.auth0.origin}/required`;
    const bearer = await dpopCall(url, { token: await issueToken(d.issuer, d.client), scheme: 'Bearer' });
    expect(bearer.status).toBe(400);
    expect((await dpopCall(url, { token, proof: resourceProof(key, 'GET', url, token) })).status).toBe(200);
  });
});

describe('interop: DPoP proofs made with jose SignJWT at the ccgate guard', () => {
  let d: Deployment;
  let key: DpopKey;
  let other: DpopKey;
  let token: string;
  let url: string;
  beforeAll(async () => {
    d = await deploy(false);
    key = dpopKey('ES256');
    other = dpopKey('RS256');
    url = `${d.local.origin}/reports`;
    token = await boundToken(d.issuer, d.client, key);
  });
  afterAll(() => d.stop());
  afterEach(() => expect(d.issuer.serverErrors).toEqual([]));

  /** Proofs signed by jose, by name. */
  async function joseProofs(
    items: Record<string, unknown>,
    thumbprintOf?: Record<string, string>,
  ): Promise<{ proofs: Record<string, string>; thumbprint?: string }> {
    const out = await runInterop('dpop-jose-proofs.mjs', { items, thumbprintOf });
    expect(out.failed).toBeUndefined();
    return out;
  }

  test('a jose-made proof gets a DPoP-bound token at the token endpoint (cnf.jkt = jose calculateJwkThumbprint) and is accepted by the guard', async () => {
    const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk };
    const at = await joseProofs(
      { token: { privateJwk: privateJwkOf(key), header, claims: { jti: 'jose-token-1', htm: 'POST', htu: `${d.issuer.endpoints}/token`, iat: nowSeconds() } } },
      key.publicJwk,
    );
    // The thumbprint as jose computes it is the one test/support/dpop.ts computes.
    expect(at.thumbprint).toBe(key.jkt);
    const res = await dpopTokenRequest(d.issuer.endpoints, d.client, { dpop: at.proofs.token });
    expect({ status: res.status, token_type: res.body?.token_type }).toEqual({ status: 200, token_type: 'DPoP' });
    const joseToken = res.body.access_token as string;
    expect(decodeJwt(joseToken).payload.cnf).toEqual({ jkt: at.thumbprint });
    const good = await joseProofs({
      good: { privateJwk: privateJwkOf(key), header, claims: { jti: 'jose-1', htm: 'GET', htu: url, iat: nowSeconds(), ath: athOf(joseToken) } },
    });
    const ok = await dpopCall(url, { token: joseToken, proof: good.proofs.good });
    expect({ status: ok.status, body: ok.body }).toEqual({ status: 200, body: { clientId: d.client.clientId, tokenType: 'DPoP', jkt: key.jkt } });
  });

  test('RFC 9449 §4.3: jose-made proofs wrong in one way each are 401 invalid_dpop_proof', async () => {
    const now = nowSeconds();
    const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk };
    const claims = (extra: Record<string, unknown> = {}) => ({
      jti: `jose-${Math.random().toString(36).slice(2)}`,
      htm: 'GET',
      htu: url,
      iat: now,
      ath: athOf(token),
      ...extra,
    });
    const signed = (extra: Record<string, unknown> = {}, head: Record<string, unknown> = header) => ({
      privateJwk: privateJwkOf(key),
      header: head,
      claims: claims(extra),
    });
    const items: Record<string, unknown> = {
      wrongHtm: signed({ htm: 'DELETE' }),
      wrongHtuPath: signed({ htu: `${d.local.origin}/other` }),
      wrongHtuHost: signed({ htu: url.replace('127.0.0.1', 'localhost') }),
      staleIat: signed({ iat: now - 600 }),
      futureIat: signed({ iat: now + 600 }),
      wrongAth: signed({ ath: athOf('some other token') }),
      noAth: signed({ ath: undefined }),
      keyMismatch: { privateJwk: privateJwkOf(other), header: { typ: 'dpop+jwt', alg: 'RS256', jwk: other.publicJwk }, claims: claims() },
      privateKeyInJwk: signed({}, { typ: 'dpop+jwt', alg: 'ES256', jwk: privateJwkOf(key) }),
      none: { unsecured: true, header: { typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk }, claims: claims() },
      hmac: { secret: JSON.stringify(key.publicJwk), header: { typ: 'dpop+jwt', alg: 'HS256', jwk: key.publicJwk }, claims: claims() },
      wrongTyp: signed({}, { typ: 'JWT', alg: 'ES256', jwk: key.publicJwk }),
    };
    const { proofs } = await joseProofs(items);
    const replayed = await joseProofs({ once: signed() });
    expect((await dpopCall(url, { token, proof: replayed.proofs.once })).status).toBe(200);
    proofs.replayedJti = replayed.proofs.once;
    const answers: Record<string, unknown> = {};
    for (const [name, proof] of Object.entries(proofs)) {
      const res = await dpopCall(url, { token, proof });
      answers[name] = { status: res.status, error: res.body?.error };
      if (res.status === 401 && res.body?.error === 'invalid_dpop_proof') expectDpopError(res);
    }
    const refused = { status: 401, error: 'invalid_dpop_proof' };
    expect(answers).toEqual(Object.fromEntries(Object.keys(proofs).map((name) => [name, refused])));
  });
});
