/**
 * RFC 8707 resource indicators at a real issuer on loopback: a token request naming a registered
 * resource gets a token whose `aud` is that resource's URI and whose scopes are ones the resource
 * understands; errors are RFC 8707 §2's invalid_target (and RFC 6749 §5.2's invalid_scope). Audience
 * isolation: a token for one API is refused by the guards of another, local (a second ccgate on the
 * same SQLite file) and remote (remoteGuard in JWKS and introspection mode), and accepted by its own.
 */
import { remoteGuard, RegistryError } from '../../lib';
import { startPeer } from '../support/assertions';
import { API_AUDIENCE } from '../support/constants';
import { seedClient, type SeededClient } from '../support/clients';
import { EventLog } from '../support/events';
import { decodeJwt } from '../support/jwt';
import { httpRequest } from '../support/http';
import { basicForm, callApi, expectBearerError, expectTokenError, introspect, postForm, responseOf, revoke } from '../support/oauth';
import { startApi, startIssuer, type TestApi, type TestIssuer } from '../support/servers';

const REPORTS = 'https://reports.api.test';
const BILLING = 'https://billing.api.test/v1';
const OTHER = 'https://other.api.test';

describe('RFC 8707 §2: the resource parameter at the token endpoint', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let log: EventLog;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    log = new EventLog(issuer.auth);
    client = await seedClient(issuer.auth, ['reports:read', 'reports:write', 'billing:read']);
    await issuer.auth.registry.createResource(REPORTS, ['reports:read', 'reports:write', 'reports:admin']);
    await issuer.auth.registry.createResource(BILLING, ['billing:read', 'billing:write']);
    await issuer.auth.registry.createResource(OTHER, ['other:read']);
  });
  beforeEach(() => log.clear());
  afterAll(async () => {
    log.stop();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  const token = (extra: Record<string, string>) => postForm(`${issuer.endpoints}/token`, client, { grant_type: 'client_credentials', ...extra });

  test('with resource and scope: aud is the resource URI, the scopes those requested', async () => {
    const res = await token({ resource: REPORTS, scope: 'reports:read' });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 200,
      body: { access_token: expect.any(String), token_type: 'Bearer', expires_in: 900, scope: 'reports:read' },
    });
    expect(decodeJwt(res.json().access_token).payload).toMatchObject({ iss: issuer.issuer, aud: REPORTS, client_id: client.clientId, scope: 'reports:read' });
    const billing = await token({ resource: BILLING, scope: 'billing:read' });
    expect(decodeJwt(billing.json().access_token).payload).toMatchObject({ aud: BILLING, scope: 'billing:read' });
  });

  test("with resource and no scope: the client's scopes that the resource understands, and no others", async () => {
    const res = await token({ resource: REPORTS });
    expect(res.status).toBe(200);
    expect(res.json().scope).toBe('reports:read reports:write');
    expect(decodeJwt(res.json().access_token).payload).toMatchObject({ aud: REPORTS, scope: 'reports:read reports:write' });
    const billing = await token({ resource: BILLING });
    expect(billing.json().scope).toBe('billing:read');
  });

  test('without resource: the default audience and the scopes as before', async () => {
    const res = await token({});
    expect(res.status).toBe(200);
    expect(decodeJwt(res.json().access_token).payload).toMatchObject({ aud: API_AUDIENCE, scope: 'billing:read reports:read reports:write' });
    expect(decodeJwt((await token({ scope: 'billing:read' })).json().access_token).payload.aud).toBe(API_AUDIENCE);
  });

  test('RFC 6749 §3.3: a scope the resource does not understand, or the client lacks, is 400 invalid_scope', async () => {
    for (const scope of ['billing:read', 'reports:read billing:read', 'reports:admin', 'nonsense:scope']) {
      const res = await token({ resource: REPORTS, scope });
      expect({ scope, status: res.status, error: res.body?.error }).toEqual({ scope, status: 400, error: 'invalid_scope' });
      expectTokenError(responseOf(res), 400, 'invalid_scope');
    }
    expect(log.ofType('scope.denied')).toHaveLength(4);
    expect(log.ofType('token.issued')).toEqual([]);
  });

  test.each([
    ['not registered', 'https://unknown.api.test'],
    ['registered under another spelling (trailing slash)', `${REPORTS}/`],
    ['registered under another spelling (upper-case host)', 'https://REPORTS.api.test'],
    ['a relative reference', '/reports'],
    ['not a URI at all', 'reports api'],
    ['with a fragment', `${REPORTS}#frag`],
    ['with a query', `${REPORTS}?tenant=1`],
    ['with an empty query', `${REPORTS}?`],
  ])('RFC 8707 §2: a resource %s is 400 invalid_target', async (_what, resource) => {
    const res = await token({ resource, scope: 'reports:read' });
    expectTokenError(responseOf(res), 400, 'invalid_target');
    expect(log.ofType('token.issued')).toEqual([]);
  });

  test('RFC 8707 §2: a resource at which the client holds no scope is 400 invalid_target', async () => {
    expectTokenError(responseOf(await token({ resource: OTHER })), 400, 'invalid_target');
  });

  test('RFC 8707 §2: the resource parameter repeated (one token per resource here) is 400 invalid_target', async () => {
    for (const resources of [
      [REPORTS, BILLING],
      [REPORTS, REPORTS],
    ]) {
      const body = new URLSearchParams([['grant_type', 'client_credentials'], ...resources.map((r): [string, string] => ['resource', r])]).toString();
      const res = await httpRequest(`${issuer.endpoints}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicForm(client.clientId, client.clientSecret) },
        body,
      });
      expect({ resources, status: res.status, error: res.body?.error }).toEqual({ resources, status: 400, error: 'invalid_target' });
      expectTokenError(responseOf(res), 400, 'invalid_target');
    }
  });

  test('the registry: resources are created, listed, changed and deleted, and token requests follow at once', async () => {
    const registry = issuer.auth.registry;
    const uri = 'https://changing.api.test';
    const created = await registry.createResource(uri, ['reports:read']);
    expect(created).toMatchObject({ uri, scopes: ['reports:read'] });
    expect(await registry.getResource(uri)).toMatchObject({ uri, scopes: ['reports:read'] });
    expect((await registry.listResources()).map((r) => r.uri)).toEqual(expect.arrayContaining([REPORTS, BILLING, OTHER, uri]));
    expect(decodeJwt((await token({ resource: uri })).json().access_token).payload).toMatchObject({ aud: uri, scope: 'reports:read' });
    expect((await token({ resource: uri, scope: 'reports:write' })).body?.error).toBe('invalid_scope');
    expect((await registry.addResourceScopes(uri, ['reports:write'])).scopes).toEqual(['reports:read', 'reports:write']);
    expect((await token({ resource: uri, scope: 'reports:write' })).status).toBe(200);
    expect((await registry.removeResourceScopes(uri, ['reports:read'])).scopes).toEqual(['reports:write']);
    expect((await token({ resource: uri, scope: 'reports:read' })).body?.error).toBe('invalid_scope');
    expect((await token({ resource: uri })).json().scope).toBe('reports:write');
    await registry.deleteResource(uri);
    expect(await registry.getResource(uri)).toBeNull();
    expectTokenError(responseOf(await token({ resource: uri })), 400, 'invalid_target');
    expect(log.ofType('resource.created').map((e) => e.uri)).toEqual([uri]);
    expect(log.ofType('resource.deleted').map((e) => e.uri)).toEqual([uri]);
  });

  test('the registry refuses a resource URI RFC 8707 §2 does not allow, and a duplicate', async () => {
    const registry = issuer.auth.registry;
    for (const uri of ['/relative', 'https://x.api.test#frag', 'https://x.api.test?q=1', 'not a uri', '']) {
      const err = await registry.createResource(uri, ['reports:read']).then(
        () => null,
        (e: unknown) => e,
      );
      expect({ uri, kind: err instanceof RegistryError ? err.kind : err }).toEqual({ uri, kind: 'invalid' });
    }
    await expect(registry.createResource(REPORTS, ['reports:read'])).rejects.toMatchObject({ name: 'RegistryError', kind: 'conflict' });
    await expect(registry.deleteResource('https://never.api.test')).rejects.toMatchObject({ name: 'RegistryError', kind: 'not_found' });
  });

  test('RFC 7662 §2.2: introspection of a token for a resource reports aud = that URI, active', async () => {
    const rs = await seedClient(issuer.auth, ['ccgate:introspect']);
    const access = (await token({ resource: BILLING })).json().access_token as string;
    const byRs = await introspect(issuer, rs, { token: access });
    expect(byRs.status).toBe(200);
    expect(byRs.json()).toMatchObject({ active: true, aud: BILLING, client_id: client.clientId, scope: 'billing:read' });
    expect((await introspect(issuer, client, { token: access })).json()).toMatchObject({ active: true, aud: BILLING });
  });
});

describe('requireResource: true', () => {
  test('RFC 8707 §2: a token request without resource is 400 invalid_target; with one it is served', async () => {
    const issuer = await startIssuer({ throttle: false, requireResource: true });
    try {
      const client = await seedClient(issuer.auth, ['reports:read']);
      await issuer.auth.registry.createResource(REPORTS, ['reports:read']);
      const without = await postForm(`${issuer.endpoints}/token`, client, { grant_type: 'client_credentials', scope: 'reports:read' });
      expectTokenError(responseOf(without), 400, 'invalid_target');
      const withResource = await postForm(`${issuer.endpoints}/token`, client, { grant_type: 'client_credentials', resource: REPORTS });
      expect(withResource.status).toBe(200);
      expect(decodeJwt(withResource.json().access_token).payload.aud).toBe(REPORTS);
      expect(issuer.serverErrors).toEqual([]);
    } finally {
      await issuer.close();
    }
  });
});

describe('RFC 8707 §2 / RFC 9068 §4: audience isolation', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let rs: SeededClient;
  let forReports: string;
  let forBilling: string;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    client = await seedClient(issuer.auth, ['reports:read', 'billing:read']);
    rs = await seedClient(issuer.auth, ['ccgate:introspect']);
    // Both APIs understand reports:read, so only the audience tells them apart.
    await issuer.auth.registry.createResource(REPORTS, ['reports:read']);
    await issuer.auth.registry.createResource(BILLING, ['reports:read', 'billing:read']);
    const get = async (resource: string) =>
      (await postForm(`${issuer.endpoints}/token`, client, { grant_type: 'client_credentials', resource, scope: 'reports:read' })).json()
        .access_token as string;
    forReports = await get(REPORTS);
    forBilling = await get(BILLING);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  /** GET /local/reports (or the API's /reports): 200 for the right audience, 401 invalid_token for the other. */
  async function expectIsolated(reportsUrl: string, accepted: string, refused: string): Promise<void> {
    expect((await callApi(reportsUrl, accepted)).status).toBe(200);
    expectBearerError(responseOf(await callApi(reportsUrl, refused)), 401, 'invalid_token');
  }

  test("the issuer's own guard (audience the default) refuses a token for a resource", async () => {
    const plain = (await postForm(`${issuer.endpoints}/token`, client, { grant_type: 'client_credentials', scope: 'reports:read' })).json()
      .access_token as string;
    await expectIsolated(`${issuer.origin}/local/reports`, plain, forReports);
    expectBearerError(responseOf(await callApi(`${issuer.origin}/local/reports`, forBilling)), 401, 'invalid_token');
  });

  test('a second ccgate on the same SQLite file: its guard with audience A accepts the token for A, not the one for B', async () => {
    const reportsPeer = await startPeer(issuer, { audience: REPORTS });
    const billingPeer = await startPeer(issuer, { audience: BILLING });
    try {
      await expectIsolated(`${reportsPeer.origin}/local/reports`, forReports, forBilling);
      await expectIsolated(`${billingPeer.origin}/local/reports`, forBilling, forReports);
      expect([...reportsPeer.serverErrors, ...billingPeer.serverErrors]).toEqual([]);
    } finally {
      await reportsPeer.close();
      await billingPeer.close();
    }
  });

  test("RFC 7009 §2: a token for a resource is revoked by its client, and the resource's own guard then refuses it", async () => {
    const access = (await postForm(`${issuer.endpoints}/token`, client, { grant_type: 'client_credentials', resource: REPORTS })).json().access_token as string;
    const reportsPeer = await startPeer(issuer, { audience: REPORTS });
    try {
      expect((await callApi(`${reportsPeer.origin}/local/reports`, access)).status).toBe(200);
      const revoked = await revoke(issuer, client, { token: access });
      expect(revoked.status).toBe(200);
      expectBearerError(responseOf(await callApi(`${reportsPeer.origin}/local/reports`, access)), 401, 'invalid_token');
      expect(reportsPeer.serverErrors).toEqual([]);
    } finally {
      await reportsPeer.close();
    }
  });

  test('remoteGuard in JWKS mode: audience A accepts the token for A, not the one for B', async () => {
    const apis: TestApi[] = [];
    try {
      apis.push(await startApi(remoteGuard({ issuer: issuer.issuer, audience: REPORTS })));
      apis.push(await startApi(remoteGuard({ issuer: issuer.issuer, audience: BILLING })));
      await expectIsolated(`${apis[0].origin}/reports`, forReports, forBilling);
      await expectIsolated(`${apis[1].origin}/reports`, forBilling, forReports);
      // The default audience is neither.
      apis.push(await startApi(remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE })));
      expectBearerError(responseOf(await callApi(`${apis[2].origin}/reports`, forReports)), 401, 'invalid_token');
    } finally {
      await Promise.all(apis.map((a) => a.stop()));
    }
  });

  test('remoteGuard in introspection mode: audience A accepts the token for A, not the one for B', async () => {
    const introspecting = { mode: 'introspection' as const, clientId: rs.clientId, clientSecret: rs.clientSecret };
    const apis: TestApi[] = [];
    try {
      apis.push(await startApi(remoteGuard({ issuer: issuer.issuer, audience: REPORTS, ...introspecting })));
      apis.push(await startApi(remoteGuard({ issuer: issuer.issuer, audience: BILLING, ...introspecting })));
      await expectIsolated(`${apis[0].origin}/reports`, forReports, forBilling);
      await expectIsolated(`${apis[1].origin}/reports`, forBilling, forReports);
    } finally {
      await Promise.all(apis.map((a) => a.stop()));
    }
  });
});
