/**
 * RFC 9449 DPoP end to end on loopback: bound tokens from a real ccgate token endpoint (proofs made by
 * hand with node:crypto, test/support/dpop.ts), presented to the local guard of ccgate() and to
 * remoteGuard (JWKS and introspection mode) as `Authorization: DPoP` with a proof for each request
 * (§7), and every way a proof can be wrong (§4.3); bound tokens used as Bearer and bearer tokens used
 * as DPoP; `required`; resource-server nonces (§9); the proof's jti used once across two instances on
 * one registry (§11.1, guardDpop.replay 'registry'); and htu behind a proxy (publicBaseUrl, Express's
 * `trust proxy`).
 */
import express, { type Express, type RequestHandler } from 'express';
import { ConfigurationError, remoteGuard, type DpopReplayStore, type Guard, type RemoteGuardOptions } from '../../lib';
import { startPeer } from '../support/assertions';
import { seedClient, type SeededClient } from '../support/clients';
import { API_AUDIENCE } from '../support/constants';
import { DPOP_ALGS, dpopKey, dpopTokenRequest, tokenProof, type DpopKey } from '../support/dpop';
import {
  athOf,
  boundToken,
  challengesOf,
  dpopCall,
  DPOP_CHALLENGE_ALGS,
  expectDpopError,
  privateJwkOf,
  provenCall,
  resourceProof,
  schemesOf,
  startForwardingProxy,
  type DpopCall,
} from '../support/dpop-proofs';
import { listen, type Listening, type RawResponse } from '../support/http';
import { decodeJwt, signHs256, unsecuredJws } from '../support/jwt';
import { ERROR_DESCRIPTION_CHARS, introspect, issueToken } from '../support/oauth';
import { startIssuer, type TestIssuer } from '../support/servers';
import { nowSeconds } from '../support/time';

/** What the guarded routes answer: who, and how the token was presented. */
const echo: RequestHandler = (req, res) => res.json({ clientId: req.auth?.clientId, tokenType: req.auth?.tokenType, jkt: req.auth?.jkt });

/** GET and POST /api/echo (reports:read), GET /api/whoami (any valid token), guarded by `guard`. */
function echoRoutes(app: Express, guard: Guard): Express {
  app.get('/api/echo', guard.requireScope('reports:read'), echo);
  app.post('/api/echo', guard.requireScope('reports:read'), echo);
  app.get('/api/whoami', guard.authenticate(), echo);
  return app;
}

/** An API on its own port with echoRoutes over `guard`; `configure` runs on the app first (e.g. trust proxy). */
async function startEchoApi(guard: Guard, configure: (app: Express) => void = () => undefined): Promise<Listening> {
  const app = express();
  configure(app);
  return listen(echoRoutes(app, guard));
}

/** The claims of a proof for GET `htu` with `token`, for the forgeries signed without dpop.ts's signer. */
const proofClaims = (htu: string, token: string) => ({
  jti: `j-${Math.random().toString(36).slice(2)}`,
  htm: 'GET',
  htu,
  iat: nowSeconds(),
  ath: athOf(token),
});

/** RFC 6750 §3.1 invalid_token in the challenge of the scheme the request used, the other one without error. */
function expectInvalidToken(res: RawResponse, used: 'Bearer' | 'DPoP'): void {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status: 401, error: 'invalid_token' });
  expect(res.body.error_description).toMatch(ERROR_DESCRIPTION_CHARS);
  const challenges = challengesOf(res);
  expect(challenges[used]).toMatchObject({ realm: 'ccgate', error: 'invalid_token' });
  const other = used === 'Bearer' ? 'DPoP' : 'Bearer';
  if (challenges[other]) expect(challenges[other].error).toBeUndefined();
}

describe('RFC 9449 §7: DPoP-bound tokens at the local guard of ccgate()', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let key: DpopKey;
  let other: DpopKey;
  let token: string;
  let url: string;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    echoRoutes(issuer.app, issuer.auth);
    client = await seedClient(issuer.auth, ['reports:read']);
    key = dpopKey('ES256');
    other = dpopKey('ES256');
    token = await boundToken(issuer, client, key);
    url = `${issuer.origin}/api/echo`;
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test.each(DPOP_ALGS)(
    'RFC 9449 §5, §6.1, §7.1: a token bound to a %s key (token_type DPoP, cnf.jkt its RFC 7638 thumbprint) is accepted with a proof by that key; req.auth says DPoP and the jkt',
    async (alg) => {
      const own = alg === 'ES256' ? key : dpopKey(alg);
      const res = await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(own, `${issuer.endpoints}/token`) });
      expect({ status: res.status, token_type: res.body?.token_type }).toEqual({ status: 200, token_type: 'DPoP' });
      const bound = res.body.access_token as string;
      expect(decodeJwt(bound).payload.cnf).toEqual({ jkt: own.jkt });
      const answer = await provenCall(url, bound, own);
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: { clientId: client.clientId, tokenType: 'DPoP', jkt: own.jkt } });
    },
  );

  test('RFC 9449 §4.3 item 8 and 9: a POST with a POST proof, and a URL with a query whose proof names it without the query, are accepted', async () => {
    const posted = await provenCall(url, token, key, { method: 'POST' });
    expect({ status: posted.status, tokenType: posted.body?.tokenType }).toEqual({ status: 200, tokenType: 'DPoP' });
    const queried = await dpopCall(`${url}?page=2&q=a%20b`, { token, proof: resourceProof(key, 'GET', url, token) });
    expect(queried.status).toBe(200);
    // Any route that takes a token: authenticate() checks the binding too.
    expect((await provenCall(`${issuer.origin}/api/whoami`, token, key)).status).toBe(200);
  });

  test('RFC 7519 §2 NumericDate: a proof whose iat has a fraction of a second is accepted, and used once', async () => {
    const proof = resourceProof(key, 'GET', url, token, { iat: nowSeconds() - 0.5 });
    expect((await dpopCall(url, { token, proof })).status).toBe(200);
    expectDpopError(await dpopCall(url, { token, proof }));
  });

  test('RFC 9449 §7.1: an unbound token keeps working as Bearer; req.auth.tokenType Bearer and jkt null', async () => {
    const bearer = await issueToken(issuer, client);
    const res = await dpopCall(url, { token: bearer, scheme: 'Bearer' });
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { clientId: client.clientId, tokenType: 'Bearer', jkt: null } });
  });

  test('RFC 9110 §11.1: the DPoP scheme name is case-insensitive', async () => {
    const res = await dpopCall(url, { token, scheme: 'dpop', proof: resourceProof(key, 'GET', url, token) });
    expect(res.status).toBe(200);
  });

  test('RFC 9449 §7.1: a request without a token is challenged for both schemes, DPoP with the accepted algs', async () => {
    const res = await dpopCall(url);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(`Bearer realm="ccgate", DPoP realm="ccgate", algs="${DPOP_CHALLENGE_ALGS}"`);
  });

  // Each one wrong in exactly one way; every one is 401 invalid_dpop_proof in the DPoP challenge.
  const refusals: Array<[string, () => DpopCall]> = [
    ['§4.3 item 8: htm names another method', () => ({ token, proof: resourceProof(key, 'POST', url, token) })],
    ['§4.3 item 8: htm in lower case (methods are case-sensitive)', () => ({ token, proof: resourceProof(key, 'get', url, token) })],
    ['§4.3 item 9: htu names another path', () => ({ token, proof: resourceProof(key, 'GET', `${issuer.origin}/api/whoami`, token) })],
    ['§4.3 item 9: htu names another host', () => ({ token, proof: resourceProof(key, 'GET', url.replace('127.0.0.1', 'localhost'), token) })],
    ['§4.3 item 9: htu names another scheme', () => ({ token, proof: resourceProof(key, 'GET', url.replace('http:', 'https:'), token) })],
    ['§4.3 item 10: iat an hour ago (stale)', () => ({ token, proof: resourceProof(key, 'GET', url, token, { iat: nowSeconds() - 3600 }) })],
    ['§4.3 item 10: iat an hour ahead', () => ({ token, proof: resourceProof(key, 'GET', url, token, { iat: nowSeconds() + 3600 }) })],
    ['§4.3 item 11: ath is the hash of another token', () => ({ token, proof: resourceProof(key, 'GET', url, token, { ath: athOf(`${token}x`) }) })],
    ['§4.3 item 11: no ath', () => ({ token, proof: resourceProof(key, 'GET', url, token, { ath: undefined }) })],
    ['§4.2: no jti', () => ({ token, proof: resourceProof(key, 'GET', url, token, { claims: { jti: undefined } }) })],
    ['§7.1 key mismatch: a good proof by another key than the one the token is bound to', () => ({ token, proof: resourceProof(other, 'GET', url, token) })],
    [
      "§4.3 item 7: the bound key's jwk in the header, the signature by another key",
      () => ({ token, proof: resourceProof(key, 'GET', url, token, { privateKey: other.privateKey }) }),
    ],
    ['§4.3 item 6: the jwk header carries the private key', () => ({ token, proof: resourceProof(key, 'GET', url, token, { publicJwk: privateJwkOf(key) }) })],
    ['§4.3 item 6: no jwk header', () => ({ token, proof: resourceProof(key, 'GET', url, token, { header: { jwk: undefined } }) })],
    ['§4.3 item 4: typ JWT instead of dpop+jwt', () => ({ token, proof: resourceProof(key, 'GET', url, token, { header: { typ: 'JWT' } }) })],
    [
      '§4.3 item 5: alg none, no signature',
      () => ({ token, proof: unsecuredJws({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk }, proofClaims(url, token)) }),
    ],
    [
      '§4.3 item 5: HS256 keyed with the public JWK (a symmetric algorithm)',
      () => ({ token, proof: signHs256(JSON.stringify(key.publicJwk), { typ: 'dpop+jwt', alg: 'HS256', jwk: key.publicJwk }, proofClaims(url, token)) }),
    ],
    ['§4.3 item 5: the header claims RS256 for an EC key', () => ({ token, proof: resourceProof(key, 'GET', url, token, { header: { alg: 'RS256' } }) })],
    ['§4.3 item 1: no DPoP header', () => ({ token })],
    [
      '§4.3 item 1: two DPoP headers, each a good proof',
      () => ({ token, proof: [resourceProof(key, 'GET', url, token), resourceProof(key, 'GET', url, token)] }),
    ],
    ['§4.3 item 2: a DPoP header that is not a JWT', () => ({ token, proof: 'not-a-jwt' })],
  ];

  test.each(refusals)('RFC 9449 %s: 401 invalid_dpop_proof', async (_name, call) => {
    const res = await dpopCall(url, call());
    const challenges = expectDpopError(res, 'invalid_dpop_proof');
    expect(res.body.error_description).toMatch(ERROR_DESCRIPTION_CHARS);
    expect(challenges.DPoP.error_description).toBe(res.body.error_description);
    expect(schemesOf(res)).toEqual(['Bearer', 'DPoP']);
  });

  test('the refused proofs cost the token nothing: a good proof after them is accepted', async () => {
    for (const [, call] of refusals.slice(0, 3)) expect((await dpopCall(url, call())).status).toBe(401);
    expect((await provenCall(url, token, key)).status).toBe(200);
  });

  test('RFC 9449 §11.1: a proof is used once: the same proof a second time is 401 invalid_dpop_proof', async () => {
    const proof = resourceProof(key, 'GET', url, token);
    expect((await dpopCall(url, { token, proof })).status).toBe(200);
    expectDpopError(await dpopCall(url, { token, proof }));
    // A replayed proof is refused on another route of the same guard too (same htu: same proof).
    expectDpopError(await dpopCall(`${url}?again=1`, { token, proof }));
  });

  test('RFC 9449 §7.1: a bound token sent as a Bearer token (stolen, without the key) is 401 invalid_token, with a proof or without', async () => {
    expectInvalidToken(await dpopCall(url, { token, scheme: 'Bearer' }), 'Bearer');
    expectInvalidToken(await dpopCall(url, { token, scheme: 'Bearer', proof: resourceProof(key, 'GET', url, token) }), 'Bearer');
  });

  test('RFC 9449 §7.1: an unbound token sent with the DPoP scheme, even with a good proof, is 401 invalid_token', async () => {
    const bearer = await issueToken(issuer, client);
    expectInvalidToken(await dpopCall(url, { token: bearer, proof: resourceProof(key, 'GET', url, bearer) }), 'DPoP');
  });

  test('a bound token for a scope it lacks is still 403 insufficient_scope once the proof is good', async () => {
    const writer = await seedClient(issuer.auth, ['reports:write']);
    const bound = await boundToken(issuer, writer, key);
    const res = await provenCall(url, bound, key);
    expect({ status: res.status, error: res.body?.error }).toEqual({ status: 403, error: 'insufficient_scope' });
  });
});

describe('RFC 9449 §7.1: ccgate({ guardDpop: { required: true } })', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false, guardDpop: { required: true } });
    echoRoutes(issuer.app, issuer.auth);
    client = await seedClient(issuer.auth, ['reports:read']);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('a bearer token is 401 invalid_token and the challenge is DPoP alone; a bound token with its proof is accepted', async () => {
    const url = `${issuer.origin}/api/echo`;
    const bearer = await dpopCall(url, { token: await issueToken(issuer, client), scheme: 'Bearer' });
    expect({ status: bearer.status, error: bearer.body?.error }).toEqual({ status: 401, error: 'invalid_token' });
    expect(schemesOf(bearer)).toEqual(['DPoP']);
    expect(challengesOf(bearer).DPoP).toMatchObject({ realm: 'ccgate', algs: DPOP_CHALLENGE_ALGS });
    const none = await dpopCall(url);
    expect({ status: none.status, challenge: none.headers['www-authenticate'] }).toEqual({
      status: 401,
      challenge: `DPoP realm="ccgate", algs="${DPOP_CHALLENGE_ALGS}"`,
    });
    const key = dpopKey('ES256');
    const ok = await provenCall(url, await boundToken(issuer, client, key), key);
    expect({ status: ok.status, body: ok.body }).toEqual({ status: 200, body: { clientId: client.clientId, tokenType: 'DPoP', jkt: key.jkt } });
  });
});

describe('RFC 9449 §9: resource-server nonces (guardDpop.nonceSecret)', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let key: DpopKey;
  let token: string;
  let url: string;
  /** RFC 9449 §8.1: nonce = 1*NQCHAR. */
  const NQCHARS = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false, guardDpop: { nonceSecret: 'resource-nonce-secret-0123456789abcdef' } });
    echoRoutes(issuer.app, issuer.auth);
    client = await seedClient(issuer.auth, ['reports:read']);
    key = dpopKey('ES256');
    // The token endpoint has no nonces of its own here: only the API asks for them.
    token = await boundToken(issuer, client, key);
    url = `${issuer.origin}/api/echo`;
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('a proof without a nonce is 401 use_dpop_nonce with DPoP-Nonce; the retry with it is accepted and carries a fresh DPoP-Nonce', async () => {
    const first = await provenCall(url, token, key);
    expectDpopError(first, 'use_dpop_nonce');
    const nonce = first.headers['dpop-nonce'] as string;
    expect(nonce).toMatch(NQCHARS);
    const retried = await dpopCall(url, { token, proof: resourceProof(key, 'GET', url, token, { nonce }) });
    expect({ status: retried.status, tokenType: retried.body?.tokenType }).toEqual({ status: 200, tokenType: 'DPoP' });
    expect(retried.headers['dpop-nonce']).toMatch(NQCHARS);
    // The nonce handed out on success works for the next request too.
    const next = await dpopCall(url, { token, proof: resourceProof(key, 'GET', url, token, { nonce: retried.headers['dpop-nonce'] as string }) });
    expect(next.status).toBe(200);
  });

  test('a nonce this API never handed out is 401 use_dpop_nonce, with the current one', async () => {
    for (const nonce of ['A'.repeat(32), 'not-a-nonce', '']) {
      const res = await dpopCall(url, { token, proof: resourceProof(key, 'GET', url, token, { nonce }) });
      expectDpopError(res, 'use_dpop_nonce');
      expect(res.headers['dpop-nonce']).toMatch(NQCHARS);
    }
  });

  test('a proof wrong in another way as well is invalid_dpop_proof, not use_dpop_nonce (the nonce is the last check)', async () => {
    const res = await dpopCall(url, { token, proof: resourceProof(key, 'POST', url, token) });
    expectDpopError(res, 'invalid_dpop_proof');
  });

  test('bearer tokens need no nonce', async () => {
    const res = await dpopCall(url, { token: await issueToken(issuer, client), scheme: 'Bearer' });
    expect({ status: res.status, tokenType: res.body?.tokenType }).toEqual({ status: 200, tokenType: 'Bearer' });
  });
});

describe('RFC 9449 §7: remoteGuard accepts DPoP-bound tokens', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let rs: SeededClient;
  let key: DpopKey;
  let token: string;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    client = await seedClient(issuer.auth, ['reports:read']);
    rs = await seedClient(issuer.auth, ['ccgate:introspect']);
    key = dpopKey('ES256');
    token = await boundToken(issuer, client, key);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  const modes: Array<[string, () => RemoteGuardOptions]> = [
    ['JWKS mode (cnf.jkt from the JWT)', () => ({ issuer: issuer.issuer, audience: API_AUDIENCE })],
    [
      'introspection mode (cnf.jkt from the RFC 7662 answer, RFC 9449 §6.2)',
      () => ({ issuer: issuer.issuer, audience: API_AUDIENCE, mode: 'introspection', clientId: rs.clientId, clientSecret: rs.clientSecret }),
    ],
  ];

  test.each(modes)('%s: a bound token with its proof is accepted, as Bearer it is 401 invalid_token, a replayed proof is refused', async (_mode, options) => {
    const api = await startEchoApi(remoteGuard(options()));
    try {
      const url = `${api.origin}/api/echo`;
      const proof = resourceProof(key, 'GET', url, token);
      const ok = await dpopCall(url, { token, proof });
      expect({ status: ok.status, body: ok.body }).toEqual({ status: 200, body: { clientId: client.clientId, tokenType: 'DPoP', jkt: key.jkt } });
      // §11.1: remembered in the guard's memory.
      expectDpopError(await dpopCall(url, { token, proof }));
      expectInvalidToken(await dpopCall(url, { token, scheme: 'Bearer' }), 'Bearer');
      expectDpopError(await dpopCall(url, { token, proof: resourceProof(dpopKey('ES256'), 'GET', url, token) }));
      expectDpopError(await dpopCall(url, { token, proof: resourceProof(key, 'GET', `${issuer.origin}/api/echo`, token) }));
      // An unbound token keeps working as Bearer, and not as DPoP.
      const bearer = await issueToken(issuer, client);
      expect((await dpopCall(url, { token: bearer, scheme: 'Bearer' })).body).toEqual({ clientId: client.clientId, tokenType: 'Bearer', jkt: null });
      expectInvalidToken(await dpopCall(url, { token: bearer, proof: resourceProof(key, 'GET', url, bearer) }), 'DPoP');
    } finally {
      await api.stop();
    }
  });

  test('RFC 9449 §6.2: the introspection answer for a bound token has token_type DPoP and cnf.jkt', async () => {
    const res = await introspect(issuer, rs, { token });
    expect(res.json()).toMatchObject({ active: true, client_id: client.clientId, token_type: 'DPoP', cnf: { jkt: key.jkt } });
  });

  test('remoteGuard({ dpop: { required: true } }): a bearer token is 401 invalid_token, challenged with DPoP alone', async () => {
    const api = await startEchoApi(remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE, dpop: { required: true } }));
    try {
      const url = `${api.origin}/api/echo`;
      const res = await dpopCall(url, { token: await issueToken(issuer, client), scheme: 'Bearer' });
      expect({ status: res.status, error: res.body?.error, schemes: schemesOf(res) }).toEqual({ status: 401, error: 'invalid_token', schemes: ['DPoP'] });
      expect((await provenCall(url, token, key)).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  test('remoteGuard({ dpop: { replay } }): the store is asked about every proof, and a proof it has seen is refused', async () => {
    const seen = new Map<string, number>();
    const asked: Array<{ id: string; expiresAt: number }> = [];
    const replay: DpopReplayStore = {
      async useOnce(id, expiresAt) {
        asked.push({ id, expiresAt });
        if (seen.has(id)) return false;
        seen.set(id, expiresAt);
        return true;
      },
    };
    // Two instances of the API sharing the store: a proof used at one is refused at the other.
    const guardOptions = { issuer: issuer.issuer, audience: API_AUDIENCE, dpop: { replay, publicBaseUrl: 'https://api.example.com' } };
    const one = await startEchoApi(remoteGuard(guardOptions));
    const two = await startEchoApi(remoteGuard(guardOptions));
    try {
      const proof = resourceProof(key, 'GET', 'https://api.example.com/api/echo', token);
      expect((await dpopCall(`${one.origin}/api/echo`, { token, proof })).status).toBe(200);
      expectDpopError(await dpopCall(`${two.origin}/api/echo`, { token, proof }));
      expect(asked).toHaveLength(2);
      expect(asked[0].id).toBe(asked[1].id);
      // Remembered at least as long as the proof could be accepted: its iat + the 60 s window.
      expect(asked[0].expiresAt).toBeGreaterThanOrEqual((decodeJwt(proof).payload.iat as number) + 60);
    } finally {
      await one.stop();
      await two.stop();
    }
  });
});

describe("RFC 9449 §11.1: with guardDpop.replay 'registry', the local guard remembers proofs in the registry, shared by every instance on it", () => {
  const PUBLIC = 'https://api.example.com';
  let issuer: TestIssuer;
  let client: SeededClient;
  beforeAll(async () => {
    // Both instances serve the same public API (behind one load balancer): the same htu at either.
    issuer = await startIssuer({ throttle: false, guardDpop: { publicBaseUrl: PUBLIC, replay: 'registry' } });
    client = await seedClient(issuer.auth, ['reports:read']);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test("with replay: 'registry', a proof accepted by one instance is refused by another on the same SQLite file", async () => {
    const peer = await startPeer(issuer, { guardDpop: { publicBaseUrl: PUBLIC, replay: 'registry' } });
    try {
      const key = dpopKey('ES256');
      const token = await boundToken(issuer, client, key);
      const proof = resourceProof(key, 'GET', `${PUBLIC}/local/reports`, token);
      expect((await dpopCall(`${issuer.origin}/local/reports`, { token, proof })).status).toBe(200);
      expectDpopError(await dpopCall(`${peer.origin}/local/reports`, { token, proof }));
      // And back: the peer's proofs are seen by the first instance.
      const fresh = resourceProof(key, 'GET', `${PUBLIC}/local/reports`, token);
      expect((await dpopCall(`${peer.origin}/local/reports`, { token, proof: fresh })).status).toBe(200);
      expectDpopError(await dpopCall(`${issuer.origin}/local/reports`, { token, proof: fresh }));
      // A fractional iat (RFC 7519 NumericDate) is remembered too.
      const fractional = resourceProof(key, 'GET', `${PUBLIC}/local/reports`, token, { iat: nowSeconds() - 0.5 });
      expect((await dpopCall(`${issuer.origin}/local/reports`, { token, proof: fractional })).status).toBe(200);
      expectDpopError(await dpopCall(`${peer.origin}/local/reports`, { token, proof: fractional }));
      expect(peer.serverErrors).toEqual([]);
    } finally {
      await peer.close();
    }
  });
});

describe('RFC 9449 §4.3 item 9 behind a proxy: the htu is the URL the client called', () => {
  const PUBLIC = 'https://api.example.com';
  let issuer: TestIssuer;
  let client: SeededClient;
  let key: DpopKey;
  let token: string;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false, guardDpop: { publicBaseUrl: PUBLIC } });
    echoRoutes(issuer.app, issuer.auth);
    client = await seedClient(issuer.auth, ['reports:read']);
    key = dpopKey('ES256');
    token = await boundToken(issuer, client, key);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('guardDpop.publicBaseUrl: through a proxy on 127.0.0.1, a proof for https://api.example.com/... is accepted, one for the address called is not', async () => {
    const proxy = await startForwardingProxy(issuer.origin, { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'api.example.com' });
    try {
      const called = `${proxy.origin}/api/echo`;
      const ok = await dpopCall(called, { token, proof: resourceProof(key, 'GET', `${PUBLIC}/api/echo`, token) });
      expect({ status: ok.status, tokenType: ok.body?.tokenType }).toEqual({ status: 200, tokenType: 'DPoP' });
      expectDpopError(await dpopCall(called, { token, proof: resourceProof(key, 'GET', called, token) }));
      expectDpopError(await dpopCall(called, { token, proof: resourceProof(key, 'GET', `${issuer.origin}/api/echo`, token) }));
      expectDpopError(await dpopCall(called, { token, proof: resourceProof(key, 'GET', `${PUBLIC}/api/whoami`, token) }));
      expect(proxy.forwarded).toBe(4);
      // Straight to the instance, the public URL is still the one that counts.
      expect((await dpopCall(`${issuer.origin}/api/echo`, { token, proof: resourceProof(key, 'GET', `${PUBLIC}/api/echo`, token) })).status).toBe(200);
    } finally {
      await proxy.stop();
    }
  });

  test('remoteGuard dpop.publicBaseUrl: the same, for an API that knows the issuer only by URL', async () => {
    const api = await startEchoApi(remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE, dpop: { publicBaseUrl: PUBLIC } }));
    const proxy = await startForwardingProxy(api.origin, {});
    try {
      const called = `${proxy.origin}/api/echo`;
      expect((await dpopCall(called, { token, proof: resourceProof(key, 'GET', `${PUBLIC}/api/echo`, token) })).status).toBe(200);
      expectDpopError(await dpopCall(called, { token, proof: resourceProof(key, 'GET', called, token) }));
    } finally {
      await proxy.stop();
      await api.stop();
    }
  });

  /** GET /api/echo through a proxy setting X-Forwarded-Proto https and X-Forwarded-Host api.example.com, in front of `guard` behind trust proxy. */
  async function throughTrustedProxy(guard: Guard, bound: string): Promise<RawResponse> {
    const api = await startEchoApi(guard, (app) => app.set('trust proxy', 'loopback'));
    const proxy = await startForwardingProxy(api.origin, { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'api.example.com' });
    try {
      return await dpopCall(`${proxy.origin}/api/echo`, { token: bound, proof: resourceProof(key, 'GET', `${PUBLIC}/api/echo`, bound) });
    } finally {
      await proxy.stop();
      await api.stop();
    }
  }

  test("Express 'trust proxy', remoteGuard: X-Forwarded-Proto and X-Forwarded-Host from a trusted proxy make the htu https://api.example.com/...", async () => {
    const res = await throughTrustedProxy(remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE }), token);
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { clientId: client.clientId, tokenType: 'DPoP', jkt: key.jkt } });
  });

  test("Express 'trust proxy', local guard of a ccgate() without publicBaseUrl: the same", async () => {
    const plain = await startIssuer({ throttle: false });
    try {
      const own = await seedClient(plain.auth, ['reports:read']);
      const res = await throughTrustedProxy(plain.auth, await boundToken(plain, own, key));
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { clientId: own.clientId, tokenType: 'DPoP', jkt: key.jkt } });
      expect(plain.serverErrors).toEqual([]);
    } finally {
      await plain.close();
    }
  });

  test("Express 'trust proxy' with a proxy that keeps the Host header: X-Forwarded-Proto alone makes the scheme https", async () => {
    const api = await startEchoApi(remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE }), (app) => app.set('trust proxy', 'loopback'));
    const proxy = await startForwardingProxy(api.origin, { 'X-Forwarded-Proto': 'https', Host: 'api.example.com' });
    try {
      const res = await dpopCall(`${proxy.origin}/api/echo`, { token, proof: resourceProof(key, 'GET', `${PUBLIC}/api/echo`, token) });
      expect(res.status).toBe(200);
    } finally {
      await proxy.stop();
      await api.stop();
    }
  });

  test('without trust proxy, X-Forwarded-* headers are not believed: the htu is the address the API was called at', async () => {
    const api = await startEchoApi(remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE }));
    const proxy = await startForwardingProxy(api.origin, { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'api.example.com' });
    try {
      expectDpopError(await dpopCall(`${proxy.origin}/api/echo`, { token, proof: resourceProof(key, 'GET', `${PUBLIC}/api/echo`, token) }));
      // The proxy rewrote Host to the API's own address: that is the URL the API sees.
      expect((await dpopCall(`${proxy.origin}/api/echo`, { token, proof: resourceProof(key, 'GET', `${api.origin}/api/echo`, token) })).status).toBe(200);
    } finally {
      await proxy.stop();
      await api.stop();
    }
  });

  test('dpop.publicBaseUrl must be an origin: a path or a trailing slash is a ConfigurationError', () => {
    for (const publicBaseUrl of ['https://api.example.com/', 'https://api.example.com/v1', 'api.example.com', 'ftp://api.example.com']) {
      expect({ publicBaseUrl, thrown: catching(() => remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE, dpop: { publicBaseUrl } })) }).toEqual({
        publicBaseUrl,
        thrown: 'ConfigurationError',
      });
    }
  });
});

/** The name of the error `fn` throws, or null. */
function catching(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof ConfigurationError ? 'ConfigurationError' : String(err);
  }
}
