/**
 * remoteGuard({mode: 'introspection'}): the API asks the issuer (RFC 7662) about each token, caches
 * positive answers briefly (never past exp), so a revocation (RFC 7009) is seen within that window.
 */
import { AuditEvents, remoteGuard, type AuditEvent, type RemoteGuardOptions } from '../../lib';
import { API_AUDIENCE, METADATA_PATH } from '../support/constants';
import { sleep } from '../support/time';
import { countingFetch } from '../support/http';
import { callApi, issueToken, revoke } from '../support/oauth';
import { decodeJwt } from '../support/jwt';
import { seedClient, type SeededClient } from '../support/clients';
import { startApi, startIssuer, startRemoteApi, type TestIssuer } from '../support/servers';

describe('remoteGuard (introspection mode)', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let rs: SeededClient;
  beforeAll(async () => {
    issuer = await startIssuer();
    client = await seedClient(issuer.auth, ['reports:read']);
    rs = await seedClient(issuer.auth, ['ccgate:introspect']);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  const introspecting = (extra: Record<string, unknown> = {}) => ({
    mode: 'introspection' as const,
    clientId: rs.clientId,
    clientSecret: rs.clientSecret,
    ...extra,
  });

  test('RFC 8414 discovery of introspection_endpoint, then RFC 7662 §2.1 requests; req.auth from the answer', async () => {
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, introspecting({ fetch: counter.fetch }));
    try {
      const token = await issueToken(issuer, client);
      const res = await callApi(`${api.origin}/reports`, token);
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ client: client.clientId, scopes: ['reports:read'] });
      expect(counter.urls).toEqual([`${issuer.origin}${METADATA_PATH}`, `${issuer.endpoints}/introspect`]);
    } finally {
      await api.stop();
    }
  });

  test('RFC 6750 §3.1: scope errors and invalid tokens as in JWKS mode', async () => {
    const api = await startRemoteApi(issuer, introspecting());
    try {
      const writer = await seedClient(issuer.auth, ['reports:write']);
      const denied = await callApi(`${api.origin}/reports`, await issueToken(issuer, writer));
      expect(denied.status).toBe(403);
      expect(denied.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
      expect((await callApi(`${api.origin}/any`, await issueToken(issuer, writer))).status).toBe(200);
      const garbage = await callApi(`${api.origin}/reports`, 'garbage');
      expect(garbage.status).toBe(401);
      expect(garbage.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    } finally {
      await api.stop();
    }
  });

  test('introspectionCacheSeconds 0: a revocation is seen on the very next request', async () => {
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, introspecting({ introspectionCacheSeconds: 0, fetch: counter.fetch }));
    try {
      const token = await issueToken(issuer, client);
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(200);
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(200);
      expect(counter.count('/introspect')).toBe(2); // asked every time
      expect((await revoke(issuer, client, { token })).status).toBe(200);
      const res = await callApi(`${api.origin}/reports`, token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    } finally {
      await api.stop();
    }
  });

  test('introspectionCacheSeconds 60: a positive answer is reused, so a revoked token is still accepted within the window', async () => {
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, introspecting({ introspectionCacheSeconds: 60, fetch: counter.fetch }));
    try {
      const token = await issueToken(issuer, client);
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(200);
      await revoke(issuer, client, { token });
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(200);
      expect(counter.count('/introspect')).toBe(1);
      // A token it never saw is asked about, and a revoked one it never saw is refused at once.
      const other = await issueToken(issuer, client);
      await revoke(issuer, client, { token: other });
      expect((await callApi(`${api.origin}/reports`, other)).status).toBe(401);
    } finally {
      await api.stop();
    }
  });

  test('a cached answer is never used past the token exp', async () => {
    const shortLived = await startIssuer({ tokenLifetime: 2, clockTolerance: 0 }); // iat is whole seconds: at least 1 s left
    const rs2 = await seedClient(shortLived.auth, ['ccgate:introspect']);
    const c2 = await seedClient(shortLived.auth);
    const counter = countingFetch();
    const api = await startRemoteApi(shortLived, {
      mode: 'introspection',
      clientId: rs2.clientId,
      clientSecret: rs2.clientSecret,
      introspectionCacheSeconds: 3600,
      fetch: counter.fetch,
    });
    try {
      const token = await issueToken(shortLived, c2);
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(200);
      const exp = decodeJwt(token).payload.exp as number;
      while (Date.now() / 1000 < exp + 0.1) await sleep(100);
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(401);
    } finally {
      await api.stop();
      await shortLived.close();
    }
  });

  test('issuer down: 503 temporarily_unavailable (never 401) for tokens not in the cache', async () => {
    const down = await startIssuer();
    const rs3 = await seedClient(down.auth, ['ccgate:introspect']);
    const c3 = await seedClient(down.auth);
    const cached = await issueToken(down, c3);
    const uncached = await issueToken(down, c3);
    const api = await startRemoteApi(down, { mode: 'introspection', clientId: rs3.clientId, clientSecret: rs3.clientSecret, introspectionCacheSeconds: 60 });
    try {
      expect((await callApi(`${api.origin}/reports`, cached)).status).toBe(200);
      await down.stop();
      const res = await callApi(`${api.origin}/reports`, uncached);
      expect(res.status).toBe(503);
      expect(res.json().error).toBe('temporarily_unavailable');
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect((await callApi(`${api.origin}/reports`, cached)).status).toBe(200); // still within its cache window
    } finally {
      await api.stop();
      await down.close();
    }
  });

  test('issuer down before the first request (discovery fails): 503', async () => {
    const down = await startIssuer();
    const rs3 = await seedClient(down.auth, ['ccgate:introspect']);
    const token = await issueToken(down, await seedClient(down.auth));
    await down.stop();
    const api = await startRemoteApi(down, { mode: 'introspection', clientId: rs3.clientId, clientSecret: rs3.clientSecret });
    try {
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(503);
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(503);
    } finally {
      await api.stop();
      await down.close();
    }
  });

  test("the guard's own credentials are wrong: the issuer refuses it, which is the API's fault, not the caller's: 503, and an audit event says why", async () => {
    const events = new AuditEvents();
    const seen: AuditEvent[] = [];
    events.on('*', (e) => seen.push(e));
    const guard = remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE, ...introspecting({ clientSecret: 'wrong-secret-wrong-secret' }), events });
    const api = await startApi(guard);
    try {
      const res = await callApi(`${api.origin}/reports`, await issueToken(issuer, client));
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(seen).toEqual([expect.objectContaining({ type: 'dependency.unavailable', dependency: 'issuer', reason: 'credentials_refused', where: 'guard' })]);
    } finally {
      await api.stop();
    }
  });

  test('inactive answers are cached briefly: 200 requests with one garbage token make one introspection call', async () => {
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, introspecting({ fetch: counter.fetch, introspectionNegativeCacheSeconds: 60 }));
    try {
      const garbage = 'not-a-real-token-' + 'x'.repeat(40);
      for (let i = 0; i < 200; i++) expect((await callApi(`${api.origin}/reports`, garbage)).status).toBe(401);
      expect(counter.count('/introspect')).toBe(1);
      // Another token is asked about: the cache is keyed by the token.
      expect((await callApi(`${api.origin}/reports`, `${garbage}y`)).status).toBe(401);
      expect(counter.count('/introspect')).toBe(2);
      // A valid token is still asked about and accepted.
      expect((await callApi(`${api.origin}/reports`, await issueToken(issuer, client))).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  test('maxTokenLength applies before any network call: a 9 KB token is 401, not a 413 from the issuer turned into 503', async () => {
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, introspecting({ fetch: counter.fetch }));
    try {
      const res = await callApi(`${api.origin}/reports`, 'a'.repeat(9000));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      expect(counter.urls).toEqual([]);
    } finally {
      await api.stop();
    }
  });

  test('concurrent first requests share one discovery of the introspection endpoint', async () => {
    const counter = countingFetch();
    const api = await startRemoteApi(issuer, introspecting({ fetch: counter.fetch }));
    try {
      const token = await issueToken(issuer, client);
      const answers = await Promise.all(Array.from({ length: 20 }, () => callApi(`${api.origin}/reports`, token)));
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 200));
      expect(counter.count(METADATA_PATH)).toBe(1);
    } finally {
      await api.stop();
    }
  });

  test("RFC 7662 §4: without the introspection scope the guard's client learns nothing about others' tokens (401)", async () => {
    const plain = await seedClient(issuer.auth, ['reports:read']);
    const api = await startRemoteApi(issuer, { mode: 'introspection', clientId: plain.clientId, clientSecret: plain.clientSecret });
    try {
      expect((await callApi(`${api.origin}/reports`, await issueToken(issuer, client))).status).toBe(401);
    } finally {
      await api.stop();
    }
  });

  test('RFC 9068 §4 / RFC 7662 §2.2 aud: an active token for another audience is refused', async () => {
    const api = await startApi(remoteGuard({ issuer: issuer.issuer, audience: 'https://another-api.test', ...introspecting() }));
    try {
      expect((await callApi(`${api.origin}/reports`, await issueToken(issuer, client))).status).toBe(401);
    } finally {
      await api.stop();
    }
  });

  test('an explicit introspectionEndpoint skips discovery; a disabled client is refused at once (cache 0)', async () => {
    const counter = countingFetch();
    const api = await startRemoteApi(
      issuer,
      introspecting({ introspectionEndpoint: `${issuer.endpoints}/introspect`, introspectionCacheSeconds: 0, fetch: counter.fetch }),
    );
    try {
      const c = await seedClient(issuer.auth);
      const token = await issueToken(issuer, c);
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(200);
      expect(counter.urls).toEqual([`${issuer.endpoints}/introspect`]);
      await issuer.auth.registry.setClientEnabled(c.clientId, false);
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(401);
    } finally {
      await api.stop();
    }
  });

  test("RFC 6749 §2.3.1: the guard's Basic credentials are form-encoded, so any secret works", async () => {
    const secret = 'sp ace:colon+plus/%25&=?#\u00e9\u20ac"\\';
    const created = await issuer.auth.registry.createClient({ name: 'awkward rs', groups: [rs.group], secret });
    const api = await startRemoteApi(issuer, { mode: 'introspection', clientId: created.client.clientId, clientSecret: secret });
    try {
      expect((await callApi(`${api.origin}/reports`, await issueToken(issuer, client))).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  test('introspection mode needs clientId and clientSecret', () => {
    // A runtime check for untyped callers: the types already require both.
    expect(() => remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE, mode: 'introspection' } as RemoteGuardOptions)).toThrow(TypeError);
  });
});
