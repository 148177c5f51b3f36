/**
 * remoteGuard() in JWKS mode (RFC 8414 discovery, RFC 7517 key sets, RFC 9068 validation, RFC 6750
 * errors) on an API service that knows only the issuer's URL. Issuer and API are separate real
 * servers on loopback.
 */
import { randomBytes } from 'node:crypto';
import { remoteGuard } from '../../lib';
import { UNKNOWN_KID_FETCHES_PER_COOLDOWN } from '../../lib/guard/remote-jwks';
import { API_AUDIENCE, METADATA_PATH, NO_TOKEN_CHALLENGE } from '../support/constants';
import { countingFetch } from '../support/http';
import { callApi, issueToken } from '../support/oauth';
import { claimsFrom, decodeJwt, foreignKey, kidOf, signJws } from '../support/jwt';
import { seedClient, type SeededClient } from '../support/clients';
import { startApi, startIssuer, startRemoteApi, type TestApi, type TestIssuer } from '../support/servers';

const attacker = foreignKey();

/** A token for the issuer's identity signed with a key it never published, kid of our choosing. */
function forged(issuer: TestIssuer, clientId: string, kid = randomBytes(8).toString('hex')): string {
  return signJws(attacker.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid }, claimsFrom(issuer.issuer, clientId));
}

describe('remoteGuard (JWKS mode): RFC 6750 protection of a separate API service', () => {
  let issuer: TestIssuer;
  let api: TestApi;
  let client: SeededClient;
  let counter: ReturnType<typeof countingFetch>;
  beforeAll(async () => {
    issuer = await startIssuer();
    client = await seedClient(issuer.auth, ['reports:read']);
    counter = countingFetch();
    api = await startRemoteApi(issuer, { fetch: counter.fetch, jwksCooldown: 3600 });
  });
  afterAll(async () => {
    await api.stop();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('RFC 8414 §3: discovers jwks_uri from the metadata, then validates locally (keys cached)', async () => {
    const token = await issueToken(issuer, client);
    const res = await callApi(`${api.origin}/reports`, token);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ client: client.clientId, scopes: ['reports:read'] });
    expect(counter.urls).toEqual([`${issuer.origin}${METADATA_PATH}`, `${issuer.endpoints}/jwks`]);
    for (let i = 0; i < 5; i++) expect((await callApi(`${api.origin}/reports`, await issueToken(issuer, client))).status).toBe(200);
    expect(counter.urls).toHaveLength(2);
  });

  test('RFC 6750 §3.1: requireScope / requireAnyScope / authenticate answer like the local guard', async () => {
    const token = await issueToken(issuer, client);
    expect((await callApi(`${api.origin}/any`, token)).status).toBe(200);
    expect((await callApi(`${api.origin}/whoami`, token)).json().client).toBe(client.clientId);
    const writer = await seedClient(issuer.auth, ['reports:write']);
    const denied = await callApi(`${api.origin}/reports`, await issueToken(issuer, writer));
    expect(denied.status).toBe(403);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer realm="ccgate", error="insufficient_scope".*scope="reports:read"/);
    const none = await callApi(`${api.origin}/reports`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(NO_TOKEN_CHALLENGE);
    const bad = await callApi(`${api.origin}/reports`, 'not-a-jwt');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  test(`unknown kids refetch at most ${UNKNOWN_KID_FETCHES_PER_COOLDOWN} times per cooldown (concurrent ones share a fetch): garbage tokens cause no fetch storm`, async () => {
    await callApi(`${api.origin}/reports`, await issueToken(issuer, client)); // keys loaded
    const before = counter.count('/jwks');
    const results = await Promise.all(Array.from({ length: 25 }, () => callApi(`${api.origin}/reports`, forged(issuer, client.clientId))));
    expect(results.map((r) => r.status)).toEqual(Array(25).fill(401));
    // Waiting requests share one fetch; stragglers after it wait for the refetch interval and share the next.
    expect(counter.count('/jwks') - before).toBeLessThanOrEqual(2);
    for (let i = 0; i < 10; i++) expect((await callApi(`${api.origin}/reports`, forged(issuer, client.clientId))).status).toBe(401);
    // The first load (an unknown kid too) and the garbage share the window's budget.
    expect(counter.count('/jwks')).toBeLessThanOrEqual(UNKNOWN_KID_FETCHES_PER_COOLDOWN);
    expect(counter.count(METADATA_PATH)).toBe(1);
  });

  test('tokens that are not JWTs, or name a kid of the right issuer with a forged signature, cause no fetch', async () => {
    const before = counter.urls.length;
    const realKid = kidOf(await issueToken(issuer, client));
    for (const token of ['abc', 'a.b.c', forged(issuer, client.clientId, realKid)]) {
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(401);
    }
    expect(counter.urls.length).toBe(before);
  });

  test('a burst of concurrent requests on a cold guard all validate, sharing one key set fetch', async () => {
    const cold = countingFetch();
    const coldApi = await startRemoteApi(issuer, { fetch: cold.fetch, jwksCooldown: 3600 });
    try {
      const tokens = await Promise.all(Array.from({ length: 8 }, () => issueToken(issuer, client)));
      const results = await Promise.all(tokens.map((t) => callApi(`${coldApi.origin}/reports`, t)));
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(cold.count('/jwks')).toBe(1);
    } finally {
      await coldApi.stop();
    }
  });

  test('RFC 9068 §4: a token for another audience is rejected', async () => {
    const otherApi = await startApi(remoteGuard({ issuer: issuer.issuer, audience: 'https://another-api.test' }));
    try {
      const res = await callApi(`${otherApi.origin}/reports`, await issueToken(issuer, client));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    } finally {
      await otherApi.stop();
    }
  });

  test('JWKS mode validates offline: a revoked token still passes it (revocation needs introspection mode)', async () => {
    // JWKS mode validates signatures offline; revocation needs introspection mode.
    const token = await issueToken(issuer, client);
    await issuer.auth.registry.revokeToken({ jti: decodeJwt(token).payload.jti, clientId: client.clientId, expiresAt: decodeJwt(token).payload.exp });
    expect((await callApi(`${api.origin}/reports`, token)).status).toBe(200);
    expect((await callApi(`${issuer.origin}/local/reports`, token)).status).toBe(401);
  });
});

describe('remoteGuard (JWKS mode): key rotation without restart', () => {
  test('an unknown kid after a rotation triggers a refetch (cooldown 0) and the new token validates', async () => {
    const issuer = await startIssuer();
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, { fetch: counter.fetch, jwksCooldown: 0 });
    try {
      const client = await seedClient(issuer.auth);
      const old = await issueToken(issuer, client);
      expect((await callApi(`${api.origin}/reports`, old)).status).toBe(200);
      await issuer.auth.rotateKey({ leadSeconds: 0 });
      const fresh = await issueToken(issuer, client);
      expect(kidOf(fresh)).not.toBe(kidOf(old));
      expect((await callApi(`${api.origin}/reports`, fresh)).status).toBe(200);
      expect((await callApi(`${api.origin}/reports`, old)).status).toBe(200);
      expect(counter.count('/jwks')).toBe(2);
    } finally {
      await api.stop();
      await issuer.close();
    }
  });
});

describe('remoteGuard (JWKS mode): the issuer being down', () => {
  test('cached keys keep validating after the issuer server is closed (also when the set is stale)', async () => {
    const issuer = await startIssuer();
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, { fetch: counter.fetch, jwksCooldown: 0, jwksMaxAge: 0 });
    const client = await seedClient(issuer.auth);
    const tokens = [await issueToken(issuer, client), await issueToken(issuer, client)];
    try {
      expect((await callApi(`${api.origin}/reports`, tokens[0])).status).toBe(200);
      await issuer.stop();
      const fetchesBefore = counter.urls.length;
      // tokens[1] is not in the verified-token cache: its kid is looked up, the (stale) set refetch fails, the held key serves.
      expect((await callApi(`${api.origin}/reports`, tokens[1])).status).toBe(200);
      expect((await callApi(`${api.origin}/reports`, tokens[0])).status).toBe(200);
      expect(counter.urls.length).toBeGreaterThan(fetchesBefore); // it did try
      // A kid it never saw cannot be judged but is not a server error either.
      expect((await callApi(`${api.origin}/reports`, forged(issuer, client.clientId))).status).toBe(401);
    } finally {
      await api.stop();
      await issuer.close();
    }
  });

  test('with no keys held and the issuer unreachable, a guard answers 503 (not 401), also within the cooldown', async () => {
    const issuer = await startIssuer();
    const client = await seedClient(issuer.auth);
    const token = await issueToken(issuer, client);
    await issuer.stop();
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, { fetch: counter.fetch, jwksCooldown: 3600 });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await callApi(`${api.origin}/reports`, token);
        expect({ attempt: i, status: res.status, error: res.json().error }).toEqual({ attempt: i, status: 503, error: 'temporarily_unavailable' });
        expect(res.headers.get('retry-after')).toBeTruthy();
      }
      expect(counter.urls.length).toBe(1); // no retry storm either
    } finally {
      await api.stop();
      await issuer.close();
    }
  });

  test('RFC 8414 §3.3: metadata whose issuer differs from the configured one is refused (503), keys never used', async () => {
    const issuer = await startIssuer();
    const client = await seedClient(issuer.auth);
    const token = await issueToken(issuer, client);
    const counter = countingFetch();
    // Same origin, but the configured identifier has a trailing slash: not identical.
    const api = await startApi(remoteGuard({ issuer: `${issuer.issuer}/`, audience: API_AUDIENCE, fetch: counter.fetch }));
    try {
      const res = await callApi(`${api.origin}/reports`, token);
      expect(res.status).toBe(503);
      expect(counter.urls).toEqual([`${issuer.origin}${METADATA_PATH}`]);
    } finally {
      await api.stop();
      await issuer.close();
    }
  });
});

describe('remoteGuard (JWKS mode): configuration', () => {
  test('an explicit jwksUri skips discovery', async () => {
    const issuer = await startIssuer();
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, { fetch: counter.fetch, jwksUri: `${issuer.endpoints}/jwks` });
    try {
      const client = await seedClient(issuer.auth);
      expect((await callApi(`${api.origin}/reports`, await issueToken(issuer, client))).status).toBe(200);
      expect(counter.urls).toEqual([`${issuer.endpoints}/jwks`]);
    } finally {
      await api.stop();
      await issuer.close();
    }
  });

  test('an issuer identifier with a path is discovered at /.well-known/oauth-authorization-server/<path>', async () => {
    const issuer = await startIssuer({ issuerPath: '/tenant-a' });
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, { fetch: counter.fetch });
    try {
      const client = await seedClient(issuer.auth);
      expect((await callApi(`${api.origin}/reports`, await issueToken(issuer, client))).status).toBe(200);
      expect(counter.urls[0]).toBe(`${issuer.origin}${METADATA_PATH}/tenant-a`);
    } finally {
      await api.stop();
      await issuer.close();
    }
  });

  test('ES256 issuer: validated by default; refused by a guard limited to RS256', async () => {
    const issuer = await startIssuer({ algorithm: 'ES256' });
    const api = await startRemoteApi(issuer);
    const rsOnly = await startRemoteApi(issuer, { algorithms: ['RS256'] });
    try {
      const client = await seedClient(issuer.auth);
      const token = await issueToken(issuer, client);
      expect(decodeJwt(token).header.alg).toBe('ES256');
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(200);
      expect((await callApi(`${rsOnly.origin}/reports`, token)).status).toBe(401);
    } finally {
      await api.stop();
      await rsOnly.stop();
      await issuer.close();
    }
  });
});
