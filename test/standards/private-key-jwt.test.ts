/**
 * RFC 7523 private_key_jwt client authentication (RFC 7521 §4.2 form members, RFC 7523 §3 claims) at
 * a real issuer on loopback: assertions signed by hand (node:crypto, test/support/assertions.ts) and
 * with jose's SignJWT, third-party clients (oauth4webapi v3, openid-client v6: ESM-only, run as .mjs
 * child processes), the one-method-per-client rule of RFC 6749 §2.3, jti replay across two instances
 * on one SQLite file, and the RFC 8414 metadata that advertises it all.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import { RegistryError } from '../../lib';
import { API_AUDIENCE, METADATA_PATH } from '../support/constants';
import {
  ASSERTION_ALGS,
  AssertingClient,
  assertionClaims,
  clientKey,
  JWT_BEARER,
  jwksOf,
  postWithAssertion,
  signAssertion,
  startPeer,
  tokenByAssertion,
  tokenWithAssertion,
  type ClientKey,
} from '../support/assertions';
import { seedClient, seedKeyClient, type SeededClient } from '../support/clients';
import { EventLog } from '../support/events';
import { httpRequest, type Reply } from '../support/http';
import { runInterop } from '../support/interop';
import { decodeJwt, unsecuredJws } from '../support/jwt';
import { callApi, expectInvalidClient, expectTokenError, introspect, postForm, responseOf } from '../support/oauth';
import { startIssuer, type TestIssuer } from '../support/servers';
import { nowSeconds } from '../support/time';

/** The audit details of the client.auth_failed events `log` saw since its last clear. */
const failures = (log: EventLog) => log.ofType('client.auth_failed');

/** Asserts RFC 6749 §5.2's invalid_client answer and one client.auth_failed event for private_key_jwt; returns its detail. */
function expectAssertionRefused(res: Reply, log: EventLog, clientId: string | null): string | undefined {
  expectInvalidClient(responseOf(res));
  const events = failures(log);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ method: 'private_key_jwt', reason: 'invalid_credentials', clientId });
  return events[0].detail;
}

describe('RFC 7523 private_key_jwt: registering a client by its public keys', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    await issuer.auth.registry.createGroup('readers', ['reports:read']);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('RFC 7591 §2 token_endpoint_auth_method private_key_jwt: created with its public JWK Set and no secret', async () => {
    const keys = [clientKey('RS256'), clientKey('ES256')];
    const created = await issuer.auth.registry.createClient({ name: 'signer', groups: ['readers'], authMethod: 'private_key_jwt', jwks: jwksOf(...keys) });
    expect(created.clientSecret).toBeNull();
    expect(created.client).toMatchObject({ authMethod: 'private_key_jwt', jwksUri: null, secrets: [], scopes: ['reports:read'] });
    expect(created.client.jwks?.keys.map((k) => k.kid)).toEqual(keys.map((k) => k.kid));
    const stored = await issuer.auth.registry.getClient(created.client.clientId);
    expect(stored).toMatchObject({ authMethod: 'private_key_jwt', secrets: [] });
    expect(stored?.jwks?.keys.map((k) => k.kid)).toEqual(keys.map((k) => k.kid));
    // The secret clients of before keep their default method.
    const secretClient = await issuer.auth.registry.createClient({ name: 'secret', groups: ['readers'] });
    expect(secretClient.client).toMatchObject({ authMethod: 'client_secret_basic', jwks: null, jwksUri: null });
    expect(typeof secretClient.clientSecret).toBe('string');
  });

  test('a private_key_jwt client has exactly one key source and no secret; a secret client has no keys', async () => {
    const registry = issuer.auth.registry;
    const jwks = jwksOf(clientKey('ES256'));
    const refusals: Array<[string, () => Promise<unknown>]> = [
      ['a secret', () => registry.createClient({ name: 'x', authMethod: 'private_key_jwt', jwks, secret: 'a-secret-of-enough-length' })],
      ['both jwks and jwksUri', () => registry.createClient({ name: 'x', authMethod: 'private_key_jwt', jwks, jwksUri: 'https://client.example/jwks' })],
      ['no keys at all', () => registry.createClient({ name: 'x', authMethod: 'private_key_jwt' })],
      ['an empty key set', () => registry.createClient({ name: 'x', authMethod: 'private_key_jwt', jwks: { keys: [] } })],
      ['keys for a secret client', () => registry.createClient({ name: 'x', authMethod: 'client_secret_post', jwks })],
      ['a public client', () => registry.createClient({ name: 'x', type: 'public', authMethod: 'private_key_jwt', jwks })],
      ['an unknown method', () => registry.createClient({ name: 'x', authMethod: 'client_secret_jwt' as never })],
    ];
    for (const [what, attempt] of refusals) {
      const err = await attempt().then(
        () => null,
        (e: unknown) => e,
      );
      expect({ what, error: err instanceof RegistryError ? err.kind : err }).toEqual({ what, error: 'invalid' });
    }
    const keyClient = await seedKeyClient(issuer.auth, { jwks });
    const secretClient = await seedClient(issuer.auth);
    await expect(registry.rotateClientSecret(keyClient.clientId)).rejects.toMatchObject({ name: 'RegistryError', kind: 'invalid' });
    await expect(registry.setClientJwks(secretClient.clientId, { jwks })).rejects.toMatchObject({ name: 'RegistryError', kind: 'invalid' });
    await expect(registry.setClientJwks('no-such-client', { jwks })).rejects.toMatchObject({ name: 'RegistryError', kind: 'not_found' });
  });
});

describe('RFC 7523 private_key_jwt at the token endpoint', () => {
  let issuer: TestIssuer;
  let log: EventLog;
  let keys: Record<(typeof ASSERTION_ALGS)[number], ClientKey>;
  let client: AssertingClient;
  let other: AssertingClient;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    log = new EventLog(issuer.auth);
    keys = { RS256: clientKey('RS256'), PS256: clientKey('PS256'), ES256: clientKey('ES256') };
    const seeded = await seedKeyClient(issuer.auth, { jwks: jwksOf(keys.RS256, keys.PS256, keys.ES256) }, ['reports:read', 'reports:write']);
    client = new AssertingClient(seeded.clientId, keys.RS256, issuer.issuer);
    const otherKey = clientKey('ES256');
    other = new AssertingClient((await seedKeyClient(issuer.auth, { jwks: jwksOf(otherKey) })).clientId, otherKey, issuer.issuer);
  });
  beforeEach(() => log.clear());
  afterAll(async () => {
    log.stop();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test.each(ASSERTION_ALGS)("RFC 7523 §2.2 / RFC 7518 §3: an assertion signed %s with one of the client's keys (chosen by kid) gets a token", async (alg) => {
    const key = keys[alg];
    const assertion = signAssertion(key, assertionClaims(client.clientId, issuer.issuer));
    const res = await tokenWithAssertion(issuer, assertion, { client_id: client.clientId, scope: 'reports:read' });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 200,
      body: { access_token: expect.any(String), token_type: 'Bearer', expires_in: 900, scope: 'reports:read' },
    });
    expect(decodeJwt(res.json().access_token).payload).toMatchObject({
      iss: issuer.issuer,
      sub: client.clientId,
      client_id: client.clientId,
      aud: API_AUDIENCE,
    });
    expect((await callApi(`${issuer.origin}/local/reports`, res.json().access_token)).status).toBe(200);
    expect(failures(log)).toEqual([]);
  });

  test('RFC 7523 §3 item 3: aud may be the issuer identifier or the token endpoint URL', async () => {
    expect(`${issuer.endpoints}/token`).toBe(`${issuer.issuer}/oauth/token`);
    for (const aud of [issuer.issuer, `${issuer.endpoints}/token`]) {
      const res = await tokenWithAssertion(issuer, client.assertion({ aud }));
      expect({ aud, status: res.status }).toEqual({ aud, status: 200 });
    }
  });

  test('RFC 7521 §4.2: client_id is optional; when sent it must be the client the assertion is by', async () => {
    expect((await tokenWithAssertion(issuer, client.assertion())).status).toBe(200);
    expect((await tokenWithAssertion(issuer, client.assertion(), { client_id: client.clientId })).status).toBe(200);
    // Another real private_key_jwt client's id beside our valid assertion.
    const detail = expectAssertionRefused(await tokenWithAssertion(issuer, client.assertion(), { client_id: other.clientId }), log, other.clientId);
    expect(detail).toEqual(expect.any(String));
  });

  test('RFC 7523 §3 item 4: exp is required and at most 300 s ahead (clientAssertionMaxLifetime default, 5 s tolerance)', async () => {
    const now = nowSeconds();
    expect((await tokenWithAssertion(issuer, client.assertion({ exp: now + 290 }))).status).toBe(200);
    expect(expectAssertionRefused(await tokenWithAssertion(issuer, client.assertion({ exp: now + 330 })), log, client.clientId)).toBe('lifetime_too_long');
    log.clear();
    expect(expectAssertionRefused(await tokenWithAssertion(issuer, client.assertion({ exp: undefined })), log, client.clientId)).toEqual(expect.any(String));
  });

  test('RFC 7523 §3 items 5 and 6: iat may not be in the future and nbf is honoured', async () => {
    const now = nowSeconds();
    // What oauth4webapi sends: nbf = iat = now.
    expect((await tokenWithAssertion(issuer, client.assertion({ nbf: now, iat: now }))).status).toBe(200);
    expect((await tokenWithAssertion(issuer, client.assertion({ nbf: now - 30, iat: now - 30 }))).status).toBe(200);
    expect(expectAssertionRefused(await tokenWithAssertion(issuer, client.assertion({ iat: now + 60, exp: now + 120 })), log, client.clientId)).toEqual(
      expect.any(String),
    );
    log.clear();
    expect(expectAssertionRefused(await tokenWithAssertion(issuer, client.assertion({ nbf: now + 60, exp: now + 120 })), log, client.clientId)).toEqual(
      expect.any(String),
    );
  });

  test('RFC 7523 §3 item 7: a jti is single-use: the same assertion again is refused, also at the introspection endpoint', async () => {
    const assertion = client.assertion();
    const first = await tokenWithAssertion(issuer, assertion);
    expect(first.status).toBe(200);
    expect(expectAssertionRefused(await tokenWithAssertion(issuer, assertion), log, client.clientId)).toBe('replayed');
    log.clear();
    const atIntrospection = await postWithAssertion(`${issuer.endpoints}/introspect`, assertion, { token: first.json().access_token });
    expect(expectAssertionRefused(atIntrospection, log, client.clientId)).toBe('replayed');
    // A new assertion with a jti of its own is fine; the same jti in a new assertion is not.
    expect((await tokenWithAssertion(issuer, client.assertion())).status).toBe(200);
    const jti = decodeJwt(assertion).payload.jti as string;
    log.clear();
    expect(expectAssertionRefused(await tokenWithAssertion(issuer, client.assertion({ jti, exp: nowSeconds() + 90 })), log, client.clientId)).toBe('replayed');
  });

  test('RFC 7523 §3: concurrent uses of one assertion: exactly one is accepted', async () => {
    const assertion = client.assertion();
    const results = await Promise.all(Array.from({ length: 6 }, () => tokenWithAssertion(issuer, assertion)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401]);
    expect(failures(log).map((e) => e.detail)).toEqual(Array(5).fill('replayed'));
  });

  test('RFC 6749 §5.2: every refusal answers like an unknown client: 401 invalid_client, the same body and Basic challenge', async () => {
    const unknownBasic = await postForm(
      `${issuer.endpoints}/token`,
      { clientId: 'no-such-client', clientSecret: 'no-such-secret-at-all' },
      { grant_type: 'client_credentials' },
    );
    const unknownByAssertion = await tokenWithAssertion(issuer, signAssertion(keys.ES256, assertionClaims('no-such-client', issuer.issuer)));
    const badSignature = await tokenWithAssertion(issuer, signAssertion(clientKey('ES256', keys.ES256.kid), assertionClaims(client.clientId, issuer.issuer)));
    const expired = await tokenWithAssertion(issuer, client.assertion({ iat: nowSeconds() - 600, exp: nowSeconds() - 60 }));
    for (const res of [unknownBasic, unknownByAssertion, badSignature, expired]) expectInvalidClient(responseOf(res));
    const shape = (res: Reply) => ({ status: res.status, body: res.body, challenge: res.headers.get('www-authenticate') });
    expect(shape(unknownByAssertion)).toEqual(shape(unknownBasic));
    expect(shape(badSignature)).toEqual(shape(unknownBasic));
    expect(shape(expired)).toEqual(shape(unknownBasic));
    const events = failures(log);
    expect(events[0].method).toBe('client_secret_basic');
    expect(events.slice(1).map((e) => [e.method, e.detail])).toEqual([
      ['private_key_jwt', 'client_unknown'],
      ['private_key_jwt', 'bad_signature'],
      ['private_key_jwt', 'expired'],
    ]);
  });

  test('a disabled private_key_jwt client is refused like an unknown one', async () => {
    const key = clientKey('ES256');
    const disabled = new AssertingClient((await seedKeyClient(issuer.auth, { jwks: jwksOf(key) })).clientId, key, issuer.issuer);
    expect((await tokenWithAssertion(issuer, disabled.assertion())).status).toBe(200);
    await issuer.auth.registry.setClientEnabled(disabled.clientId, false);
    log.clear();
    expect(expectAssertionRefused(await tokenWithAssertion(issuer, disabled.assertion()), log, disabled.clientId)).toBe('client_disabled');
  });

  test('a key rollover (setClientJwks) takes effect at once: the new kid signs, the removed one is unknown', async () => {
    const oldKey = clientKey('RS256');
    const seeded = await seedKeyClient(issuer.auth, { jwks: jwksOf(oldKey) });
    const before = new AssertingClient(seeded.clientId, oldKey, issuer.issuer);
    expect((await tokenWithAssertion(issuer, before.assertion())).status).toBe(200);
    const newKey = clientKey('ES256');
    const after = new AssertingClient(seeded.clientId, newKey, issuer.issuer);
    // Overlap: both keys listed.
    await issuer.auth.registry.setClientJwks(seeded.clientId, { jwks: jwksOf(oldKey, newKey) });
    expect((await tokenWithAssertion(issuer, before.assertion())).status).toBe(200);
    expect((await tokenWithAssertion(issuer, after.assertion())).status).toBe(200);
    // The old key removed.
    const changed = await issuer.auth.registry.setClientJwks(seeded.clientId, { jwks: jwksOf(newKey) });
    expect(changed.jwks?.keys.map((k) => k.kid)).toEqual([newKey.kid]);
    expect(log.ofType('client.keys_changed').map((e) => e.kids)).toEqual([[oldKey.kid, newKey.kid], [newKey.kid]]);
    log.clear();
    expect(expectAssertionRefused(await tokenWithAssertion(issuer, before.assertion()), log, seeded.clientId)).toBe('unknown_key');
    expect((await tokenWithAssertion(issuer, after.assertion())).status).toBe(200);
  });

  test('RFC 7517 §4.4: a registered JWK without an alg member still verifies assertions of its key type', async () => {
    const key = clientKey('RS256');
    const { alg: _alg, ...withoutAlg } = key.publicJwk;
    const seeded = await seedKeyClient(issuer.auth, { jwks: { keys: [withoutAlg] } });
    expect((await tokenWithAssertion(issuer, new AssertingClient(seeded.clientId, key, issuer.issuer).assertion())).status).toBe(200);
  });

  test('RFC 7521 §4.2: client_assertion without client_assertion_type, with another type, or the type alone is 400 invalid_request', async () => {
    const url = `${issuer.endpoints}/token`;
    const send = (params: Record<string, string>) =>
      httpRequest(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString(),
      });
    const cases: Record<string, Record<string, string>> = {
      'no type': { client_assertion: client.assertion() },
      'SAML 2.0 bearer type (RFC 7522)': {
        client_assertion: client.assertion(),
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
      },
      'type in another case': { client_assertion: client.assertion(), client_assertion_type: JWT_BEARER.toUpperCase() },
      'type without assertion': { client_assertion_type: JWT_BEARER },
      'type without assertion, with client_id': { client_assertion_type: JWT_BEARER, client_id: client.clientId },
    };
    for (const [what, params] of Object.entries(cases)) {
      const res = await send(params);
      expect({ what, status: res.status, error: res.body?.error }).toEqual({ what, status: 400, error: 'invalid_request' });
      expectTokenError(responseOf(res), 400, 'invalid_request');
    }
  });

  test('RFC 6749 §2.3: one method per request: an assertion together with Basic credentials or a client_secret is 400 invalid_request', async () => {
    const secretClient = await seedClient(issuer.auth);
    const withBasic = await postWithAssertion(
      `${issuer.endpoints}/token`,
      client.assertion(),
      { grant_type: 'client_credentials' },
      { Authorization: `Basic ${Buffer.from(`${secretClient.clientId}:${secretClient.clientSecret}`).toString('base64')}` },
    );
    expectTokenError(responseOf(withBasic), 400, 'invalid_request');
    const withPost = await tokenWithAssertion(issuer, client.assertion(), { client_id: client.clientId, client_secret: 'some-secret-of-enough-length' });
    expectTokenError(responseOf(withPost), 400, 'invalid_request');
  });
});

describe('RFC 6749 §2.3: each client authenticates with its own registered method only', () => {
  let issuer: TestIssuer;
  let log: EventLog;
  let keyClient: AssertingClient;
  let basicClient: SeededClient;
  let postClient: SeededClient;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    log = new EventLog(issuer.auth);
    const key = clientKey('ES256');
    keyClient = new AssertingClient((await seedKeyClient(issuer.auth, { jwks: jwksOf(key) })).clientId, key, issuer.issuer);
    basicClient = await seedClient(issuer.auth);
    await issuer.auth.registry.createGroup('posters', ['reports:read']);
    const post = await issuer.auth.registry.createClient({ name: 'poster', groups: ['posters'], authMethod: 'client_secret_post' });
    expect(post.client.authMethod).toBe('client_secret_post');
    postClient = { clientId: post.client.clientId, clientSecret: post.clientSecret as string, group: 'posters' };
  });
  beforeEach(() => log.clear());
  afterAll(async () => {
    log.stop();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  const grant = { grant_type: 'client_credentials' };

  test('the registered method works', async () => {
    expect((await postForm(`${issuer.endpoints}/token`, basicClient, grant)).status).toBe(200);
    expect((await postForm(`${issuer.endpoints}/token`, { ...postClient, method: 'post' }, grant)).status).toBe(200);
    expect((await tokenWithAssertion(issuer, keyClient.assertion())).status).toBe(200);
  });

  test('a client_secret_post client using Basic, and a client_secret_basic client using the form, get 401 invalid_client', async () => {
    const postAsBasic = await postForm(`${issuer.endpoints}/token`, { ...postClient, method: 'basic' }, grant);
    expectInvalidClient(responseOf(postAsBasic));
    const basicAsPost = await postForm(`${issuer.endpoints}/token`, { ...basicClient, method: 'post' }, grant);
    expectInvalidClient(responseOf(basicAsPost));
    expect(failures(log).map((e) => ({ clientId: e.clientId, method: e.method, detail: e.detail }))).toEqual([
      { clientId: postClient.clientId, method: 'client_secret_basic', detail: 'wrong_method' },
      { clientId: basicClient.clientId, method: 'client_secret_post', detail: 'wrong_method' },
    ]);
  });

  test('a private_key_jwt client sending a secret (Basic or form) gets 401 invalid_client', async () => {
    for (const method of ['basic', 'post'] as const) {
      const res = await postForm(`${issuer.endpoints}/token`, { clientId: keyClient.clientId, clientSecret: 'a-guessed-secret-of-length', method }, grant);
      expectInvalidClient(responseOf(res));
    }
    expect(failures(log).map((e) => ({ clientId: e.clientId, method: e.method, detail: e.detail }))).toEqual([
      { clientId: keyClient.clientId, method: 'client_secret_basic', detail: 'wrong_method' },
      { clientId: keyClient.clientId, method: 'client_secret_post', detail: 'wrong_method' },
    ]);
  });

  test('a secret client sending an assertion (even a well-formed, signed one) gets 401 invalid_client', async () => {
    for (const secretClient of [basicClient, postClient]) {
      const assertion = signAssertion(keyClient.key, assertionClaims(secretClient.clientId, issuer.issuer));
      const res = await tokenWithAssertion(issuer, assertion, { client_id: secretClient.clientId });
      expectInvalidClient(responseOf(res));
    }
    expect(failures(log).map((e) => ({ clientId: e.clientId, method: e.method, detail: e.detail }))).toEqual([
      { clientId: basicClient.clientId, method: 'private_key_jwt', detail: 'wrong_method' },
      { clientId: postClient.clientId, method: 'private_key_jwt', detail: 'wrong_method' },
    ]);
  });

  test('the same refusals at the introspection and revocation endpoints', async () => {
    const access = await tokenByAssertion(issuer, keyClient.assertion());
    for (const endpoint of ['introspect', 'revoke']) {
      const asSecret = await postForm(
        `${issuer.endpoints}/${endpoint}`,
        { clientId: keyClient.clientId, clientSecret: 'a-guessed-secret-of-length' },
        { token: access },
      );
      expect({ endpoint, status: asSecret.status, error: asSecret.body?.error }).toEqual({ endpoint, status: 401, error: 'invalid_client' });
      const assertion = signAssertion(keyClient.key, assertionClaims(basicClient.clientId, issuer.issuer));
      const asAssertion = await postWithAssertion(`${issuer.endpoints}/${endpoint}`, assertion, { token: access });
      expect({ endpoint, status: asAssertion.status, error: asAssertion.body?.error }).toEqual({ endpoint, status: 401, error: 'invalid_client' });
    }
  });
});

describe('RFC 7523 §3: assertions made wrong one way each (jose SignJWT), all 401 invalid_client', () => {
  let issuer: TestIssuer;
  let log: EventLog;
  let key: ClientKey;
  let clientId: string;
  let otherId: string;
  const signed: Record<string, string> = {};

  /** What each case breaks, and the audit detail (client.auth_failed) it gives. */
  const CASES: Record<string, string> = {
    'aud another server': 'wrong_audience',
    expired: 'expired',
    'signed by a foreign key under the client kid': 'bad_signature',
    'kid not in the set': 'unknown_key',
    'HS256 keyed with the public key (alg confusion)': 'unsupported_algorithm',
    // An unsecured JWS has an empty signature: ccgate calls that "malformed" before it reads the alg.
    'alg none (unsecured JWS)': 'malformed',
    'alg none with a signature segment': 'unsupported_algorithm',
    'no jti': 'missing_jti',
    'sub another client': 'wrong_subject',
    'iss another client': 'wrong_issuer',
    'exp an hour ahead': 'lifetime_too_long',
    'iat in the future': 'not_yet_valid',
    'nbf in the future': 'not_yet_valid',
    'no exp': 'malformed',
    'header alg ES256 on the RSA kid': 'unknown_key',
  };

  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    log = new EventLog(issuer.auth);
    key = clientKey('RS256');
    clientId = (await seedKeyClient(issuer.auth, { jwks: jwksOf(key) })).clientId;
    otherId = (await seedKeyClient(issuer.auth, { jwks: jwksOf(clientKey('ES256')) })).clientId;
    const now = nowSeconds();
    const claims = (overrides: Record<string, unknown> = {}) => assertionClaims(clientId, issuer.issuer, { exp: now + 120, ...overrides });
    const header = { alg: 'RS256', kid: key.kid };
    const foreign = clientKey('RS256', key.kid);
    const es = clientKey('ES256');
    const publicPem = createPublicKey({ key: key.publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    const items: Record<string, { privateJwk?: Record<string, string>; secret?: string; header: Record<string, unknown>; claims: Record<string, unknown> }> = {
      valid: { privateJwk: key.privateJwk, header, claims: claims() },
      'aud another server': { privateJwk: key.privateJwk, header, claims: claims({ aud: 'https://elsewhere.example' }) },
      expired: { privateJwk: key.privateJwk, header, claims: claims({ iat: now - 600, exp: now - 60 }) },
      'signed by a foreign key under the client kid': { privateJwk: foreign.privateJwk, header, claims: claims() },
      'kid not in the set': { privateJwk: key.privateJwk, header: { ...header, kid: randomBytes(6).toString('hex') }, claims: claims() },
      'HS256 keyed with the public key (alg confusion)': { secret: publicPem, header: { alg: 'HS256', kid: key.kid }, claims: claims() },
      'no jti': { privateJwk: key.privateJwk, header, claims: claims({ jti: undefined }) },
      'sub another client': { privateJwk: key.privateJwk, header, claims: claims({ sub: otherId }) },
      'iss another client': { privateJwk: key.privateJwk, header, claims: claims({ iss: otherId }) },
      'exp an hour ahead': { privateJwk: key.privateJwk, header, claims: claims({ exp: now + 3600 }) },
      'iat in the future': { privateJwk: key.privateJwk, header, claims: claims({ iat: now + 90, exp: now + 150 }) },
      'nbf in the future': { privateJwk: key.privateJwk, header, claims: claims({ nbf: now + 90, exp: now + 150 }) },
      'no exp': { privateJwk: key.privateJwk, header, claims: claims({ exp: undefined }) },
      'header alg ES256 on the RSA kid': { privateJwk: es.privateJwk, header: { alg: 'ES256', kid: key.kid }, claims: claims() },
    };
    // JSON drops the undefined claims: "no jti" and "no exp" go without them.
    const out = await runInterop<{ assertions: Record<string, string>; failed?: unknown }>('jose-sign-assertions.mjs', { items });
    expect(out.failed).toBeUndefined();
    Object.assign(signed, out.assertions);
    signed['alg none (unsecured JWS)'] = unsecuredJws({ alg: 'none', kid: key.kid }, claims());
    signed['alg none with a signature segment'] = `${unsecuredJws({ alg: 'none', kid: key.kid }, claims())}c2lnbmF0dXJl`;
  });
  beforeEach(() => log.clear());
  afterAll(async () => {
    log.stop();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('the control: the valid jose-signed assertion gets a token', async () => {
    expect(decodeJwt(signed.valid).header).toEqual({ alg: 'RS256', kid: key.kid });
    expect((await tokenWithAssertion(issuer, signed.valid, { client_id: clientId })).status).toBe(200);
  });

  test.each(Object.keys(CASES))('%s', async (name) => {
    const res = await tokenWithAssertion(issuer, signed[name], { client_id: clientId });
    const detail = expectAssertionRefused(res, log, clientId);
    expect(detail).toBe(CASES[name]);
  });
});

describe('RFC 7523 private_key_jwt at the introspection (RFC 7662) and revocation (RFC 7009) endpoints', () => {
  let issuer: TestIssuer;
  let client: AssertingClient;
  let rs: AssertingClient;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    const key = clientKey('ES256');
    client = new AssertingClient((await seedKeyClient(issuer.auth, { jwks: jwksOf(key) })).clientId, key, issuer.issuer);
    const rsKey = clientKey('PS256');
    rs = new AssertingClient((await seedKeyClient(issuer.auth, { jwks: jwksOf(rsKey) }, ['ccgate:introspect'])).clientId, rsKey, issuer.issuer);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('a client introspects and revokes its own token, a resource server introspects it, each with a fresh assertion', async () => {
    const access = await tokenByAssertion(issuer, client.assertion());
    const own = await postWithAssertion(`${issuer.endpoints}/introspect`, client.assertion(), { token: access });
    expect(own.status).toBe(200);
    expect(own.json()).toMatchObject({ active: true, client_id: client.clientId, aud: API_AUDIENCE });
    // The token endpoint URL is an accepted audience at the other endpoints too.
    const byRs = await postWithAssertion(`${issuer.endpoints}/introspect`, rs.assertion({ aud: `${issuer.endpoints}/token` }), { token: access });
    expect(byRs.json()).toMatchObject({ active: true, client_id: client.clientId });
    const revoked = await postWithAssertion(`${issuer.endpoints}/revoke`, client.assertion(), { token: access });
    expect(revoked.status).toBe(200);
    expect((await postWithAssertion(`${issuer.endpoints}/introspect`, rs.assertion(), { token: access })).json()).toEqual({ active: false });
    expect((await callApi(`${issuer.origin}/local/reports`, access)).status).toBe(401);
  });

  test('a bad assertion at introspection or revocation is 401 invalid_client, and the token is untouched', async () => {
    const access = await tokenByAssertion(issuer, client.assertion());
    for (const endpoint of ['introspect', 'revoke']) {
      const res = await postWithAssertion(`${issuer.endpoints}/${endpoint}`, client.assertion({ aud: 'https://elsewhere.example' }), { token: access });
      expectInvalidClient(responseOf(res));
    }
    expect((await callApi(`${issuer.origin}/local/reports`, access)).status).toBe(200);
  });
});

describe('RFC 7523 §3 item 7: jti replay across two ccgate instances on one SQLite file', () => {
  test('an assertion used at one instance is refused at the other (also when both get it at once)', async () => {
    const issuer = await startIssuer({ throttle: false });
    const peer = await startPeer(issuer);
    try {
      const key = clientKey('RS256');
      const client = new AssertingClient((await seedKeyClient(issuer.auth, { jwks: jwksOf(key) })).clientId, key, issuer.issuer);
      const peerLog = new EventLog(peer.auth);
      const assertion = client.assertion();
      expect((await tokenWithAssertion(issuer, assertion)).status).toBe(200);
      const replay = await tokenWithAssertion(peer, assertion);
      expectInvalidClient(responseOf(replay));
      expect(peerLog.ofType('client.auth_failed').map((e) => e.detail)).toEqual(['replayed']);
      // The other way round, and a race between the two.
      const second = client.assertion();
      expect((await tokenWithAssertion(peer, second)).status).toBe(200);
      expect((await tokenWithAssertion(issuer, second)).status).toBe(401);
      for (let i = 0; i < 5; i++) {
        const raced = client.assertion();
        const statuses = (await Promise.all([tokenWithAssertion(issuer, raced), tokenWithAssertion(peer, raced)])).map((r) => r.status);
        expect({ i, statuses: statuses.sort() }).toEqual({ i, statuses: [200, 401] });
      }
      peerLog.stop();
      expect(peer.serverErrors).toEqual([]);
      expect(issuer.serverErrors).toEqual([]);
    } finally {
      await peer.close();
      await issuer.close();
    }
  });
});

describe('clientAssertionMaxLifetime', () => {
  test('bounds how far ahead an assertion may expire (here 60 s)', async () => {
    const issuer = await startIssuer({ throttle: false, clientAssertionMaxLifetime: 60 });
    try {
      const key = clientKey('ES256');
      const client = new AssertingClient((await seedKeyClient(issuer.auth, { jwks: jwksOf(key) })).clientId, key, issuer.issuer);
      const log = new EventLog(issuer.auth);
      expect((await tokenWithAssertion(issuer, client.assertion({ exp: nowSeconds() + 50 }))).status).toBe(200);
      expect(expectAssertionRefused(await tokenWithAssertion(issuer, client.assertion({ exp: nowSeconds() + 120 })), log, client.clientId)).toBe(
        'lifetime_too_long',
      );
      log.stop();
      expect(issuer.serverErrors).toEqual([]);
    } finally {
      await issuer.close();
    }
  });
});

describe('RFC 8414 §2: the metadata advertises private_key_jwt', () => {
  test('*_auth_methods_supported list it and *_auth_signing_alg_values_supported list RS256, PS256, ES256', async () => {
    const issuer = await startIssuer();
    try {
      const m = (await httpRequest(`${issuer.origin}${METADATA_PATH}`)).json();
      for (const endpoint of ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint']) {
        expect({ endpoint, methods: m[`${endpoint}_auth_methods_supported`] }).toEqual({
          endpoint,
          methods: expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'private_key_jwt']),
        });
        expect({ endpoint, algs: m[`${endpoint}_auth_signing_alg_values_supported`] }).toEqual({ endpoint, algs: ['RS256', 'PS256', 'ES256'] });
      }
      // RFC 8414 §2: "none" MUST NOT be used.
      expect(JSON.stringify(m)).not.toMatch(/"none"|HS256/);
    } finally {
      await issuer.close();
    }
  });
});

describe('interop: third-party clients with private_key_jwt (keys from jose generateKeyPair)', () => {
  const RESOURCE = 'https://reports.api.test';
  let issuer: TestIssuer;
  let clientId: string;
  let made: { alg: string; kid: string; publicJwk: Record<string, string>; privateJwk: Record<string, string> }[];
  let rs: SeededClient;
  beforeAll(async () => {
    issuer = await startIssuer();
    const out = await runInterop('jose-client-keys.mjs', {
      keys: [
        { alg: 'RS256', kid: 'rsa-1' },
        { alg: 'ES256', kid: 'ec-1' },
        { alg: 'ES256', kid: 'ec-foreign' },
      ],
    });
    expect(out.failed).toBeUndefined();
    made = out.keys;
    clientId = (await seedKeyClient(issuer.auth, { jwks: { keys: made.slice(0, 2).map((k) => k.publicJwk) } }, ['reports:read'])).clientId;
    await issuer.auth.registry.createResource(RESOURCE, ['reports:read']);
    rs = await seedClient(issuer.auth, ['ccgate:introspect']);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('oauth4webapi PrivateKeyJwt (RS256 and ES256 CryptoKeys, with kid): grant, with resource, introspection, revocation; openid-client v6 clientCredentialsGrant', async () => {
    const out = await runInterop('private-key-jwt-clients.mjs', {
      issuer: issuer.issuer,
      clientId,
      keys: made.slice(0, 2).map(({ alg, kid, privateJwk }) => ({ alg, kid, privateJwk })),
      scope: 'reports:read',
      resource: RESOURCE,
      foreignKey: { alg: made[2].alg, kid: 'ec-1', privateJwk: made[2].privateJwk },
    });
    expect(out.failed).toBeUndefined();
    expect(out.metadata.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    // A key the issuer never saw (under a registered kid): RFC 6749 §5.2's challenge, as oauth4webapi reports it.
    expect(out.foreign).toMatchObject({
      name: 'WWWAuthenticateChallengeError',
      status: 401,
      challenges: [{ scheme: 'basic', parameters: { realm: 'ccgate' } }],
    });
    for (const kid of ['rsa-1', 'ec-1']) {
      const { tokens, introspection, afterRevocation, withResource } = out.oauth4webapi[kid];
      expect({ kid, token_type: tokens.token_type, scope: tokens.scope, expires_in: tokens.expires_in }).toEqual({
        kid,
        token_type: 'bearer',
        scope: 'reports:read',
        expires_in: 900,
      });
      expect(decodeJwt(tokens.access_token).payload).toMatchObject({ iss: issuer.issuer, aud: API_AUDIENCE, client_id: clientId });
      expect(introspection).toMatchObject({ active: true, client_id: clientId, scope: 'reports:read' });
      expect(afterRevocation).toEqual({ active: false });
      expect((await callApi(`${issuer.origin}/local/reports`, tokens.access_token)).status).toBe(401);
      // RFC 8707: the token for the resource names it as its audience.
      expect(decodeJwt(withResource.access_token).payload).toMatchObject({ aud: RESOURCE, client_id: clientId, scope: 'reports:read' });
      const client = out.openidClient[kid];
      expect(client.tokens).toMatchObject({ token_type: 'bearer', expires_in: 900, scope: 'reports:read' });
      expect(decodeJwt(client.tokens.access_token).payload).toMatchObject({ aud: RESOURCE, client_id: clientId });
    }
    // RFC 7662: introspection of the tokens for the resource (by the client itself through openid-client, and by a resource server).
    for (const kid of ['rsa-1', 'ec-1']) {
      const client = out.openidClient[kid];
      expect(client.introspection).toMatchObject({ active: true, client_id: clientId, aud: RESOURCE });
      expect((await introspect(issuer, rs, { token: client.tokens.access_token })).json()).toMatchObject({ active: true, aud: RESOURCE });
    }
  });
});
