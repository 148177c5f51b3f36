/**
 * RFC 9728 OAuth 2.0 Protected Resource Metadata on loopback: the document a guard serves for its
 * API (§2, §3: at the well-known path built from the resource identifier, §3.1), its caching, the
 * `resource_metadata` every 401 challenge names (§5.1), for remoteGuard and the local guard of
 * ccgate(); oauth4webapi (ESM-only, a .mjs child process) discovering an API from its URL alone, then
 * its authorization server from `authorization_servers`, and calling it with a token for it (RFC
 * 8707); `dpop_bound_access_tokens_required` with DPoP required; and the options refused.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import express, { type RequestHandler } from 'express';
import {
  ConfigurationError,
  PROTECTED_RESOURCE_WELL_KNOWN,
  protectedResourceMetadataUrl,
  remoteGuard,
  type JwksRemoteGuardOptions,
  type ProtectedResourceOptions,
} from '../../lib';
import { seedClient, type SeededClient } from '../support/clients';
import { API_AUDIENCE, DIST } from '../support/constants';
import { dpopKey } from '../support/dpop';
import { boundToken, dpopCall, parseChallenges, resourceProof } from '../support/dpop-proofs';
import { httpRequest, listen, type Listening, type Reply } from '../support/http';
import { runInterop } from '../support/interop';
import { callApi, issueToken, postForm } from '../support/oauth';
import { assertBuilt, cleanEnv } from '../support/processes';
import { startIssuer, TEST_OPTIONS, type TestIssuer } from '../support/servers';
import { tempDir } from '../support/temp';

const DPOP_ALGS = ['ES256', 'RS256', 'PS256'];

const echo: RequestHandler = (req, res) => res.json({ clientId: req.auth?.clientId, tokenType: req.auth?.tokenType });

interface ResourceApi extends Listening {
  /** The resource identifier: the API's URL. */
  resource: string;
  /** Where its metadata is (RFC 9728 §3.1). */
  metadataUrl: string;
}

/**
 * An API on its own port whose resource identifier is `${origin}${path}` (its audience too), guarded by
 * remoteGuard with protectedResource for it; the route at `path` (or "/") needs reports:read.
 */
async function startResourceApi(
  issuer: TestIssuer,
  path: string,
  extra: Partial<ProtectedResourceOptions> = {},
  guardOptions: Partial<JwksRemoteGuardOptions> = {},
): Promise<ResourceApi> {
  const listening = await listen();
  const resource = `${listening.origin}${path}`;
  const guard = remoteGuard({
    issuer: issuer.issuer,
    audience: resource,
    protectedResource: { resource, scopes: ['reports:read'], ...extra },
    ...guardOptions,
  });
  const app = express();
  app.use(guard.protectedResourceMetadata());
  app.get(path || '/', guard.requireScope('reports:read'), echo);
  listening.server.on('request', app);
  return { ...listening, resource, metadataUrl: `${listening.origin}${PROTECTED_RESOURCE_WELL_KNOWN}${path}` };
}

/** Every challenge of a 401 names the metadata (RFC 9728 §5.1). */
function expectMetadataNamed(res: { status: number; headers: Headers | Record<string, unknown> }, metadataUrl: string): string[] {
  expect(res.status).toBe(401);
  const header = res.headers instanceof Headers ? res.headers.get('www-authenticate') : (res.headers['www-authenticate'] as string | undefined);
  const challenges = parseChallenges(header);
  expect(challenges.length).toBeGreaterThan(0);
  for (const c of challenges)
    expect({ scheme: c.scheme, resource_metadata: c.params.resource_metadata }).toEqual({ scheme: c.scheme, resource_metadata: metadataUrl });
  return challenges.map((c) => c.scheme);
}

/** The name of the error `fn` throws (ConfigurationError with its option), or null. */
function thrown(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof ConfigurationError ? `ConfigurationError(${err.option})` : String(err);
  }
}

test('RFC 9728 §3.1: the well-known path goes between the host and the resource path; a terminating slash after the host is dropped', () => {
  expect(PROTECTED_RESOURCE_WELL_KNOWN).toBe('/.well-known/oauth-protected-resource');
  const cases: Array<[string, string]> = [
    ['https://api.example.com', 'https://api.example.com/.well-known/oauth-protected-resource'],
    ['https://api.example.com/', 'https://api.example.com/.well-known/oauth-protected-resource'],
    ['https://api.example.com/reports', 'https://api.example.com/.well-known/oauth-protected-resource/reports'],
    ['https://api.example.com/v1/reports', 'https://api.example.com/.well-known/oauth-protected-resource/v1/reports'],
    ['https://api.example.com:8443/reports', 'https://api.example.com:8443/.well-known/oauth-protected-resource/reports'],
    ['http://127.0.0.1:4000/reports', 'http://127.0.0.1:4000/.well-known/oauth-protected-resource/reports'],
  ];
  for (const [resource, url] of cases) expect({ resource, url: protectedResourceMetadataUrl(resource).href }).toEqual({ resource, url });
});

describe('RFC 9728: remoteGuard({ protectedResource })', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false });
    client = await seedClient(issuer.auth, ['reports:read']);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('RFC 9728 §2, §3.2: a resource with a path: its document at /.well-known/oauth-protected-resource/reports, cacheable, and nothing at the root', async () => {
    const api = await startResourceApi(issuer, '/reports', { resourceName: 'Reports API', resourceDocumentation: 'https://docs.example.com/reports' });
    try {
      const res = await httpRequest(api.metadataUrl);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('public, max-age=300');
      expect(res.json()).toEqual({
        resource: api.resource,
        authorization_servers: [issuer.issuer],
        scopes_supported: ['reports:read'],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: DPOP_ALGS,
        resource_name: 'Reports API',
        resource_documentation: 'https://docs.example.com/reports',
      });
      expect((await httpRequest(`${api.origin}${PROTECTED_RESOURCE_WELL_KNOWN}`)).status).toBe(404);
    } finally {
      await api.stop();
    }
  });

  test('RFC 9728 §3.1: a resource without a path: at /.well-known/oauth-protected-resource; authorization_servers and max-age as given; optional members left out', async () => {
    const api = await startResourceApi(issuer, '', {
      authorizationServers: ['https://other-as.example.com', issuer.issuer],
      maxAgeSeconds: 60,
      scopes: undefined,
    });
    try {
      expect(api.metadataUrl).toBe(`${api.origin}/.well-known/oauth-protected-resource`);
      const res = await httpRequest(api.metadataUrl);
      expect({ status: res.status, cacheControl: res.headers.get('cache-control') }).toEqual({ status: 200, cacheControl: 'public, max-age=60' });
      expect(res.json()).toEqual({
        resource: api.resource,
        authorization_servers: ['https://other-as.example.com', issuer.issuer],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: DPOP_ALGS,
      });
    } finally {
      await api.stop();
    }
  });

  test('RFC 9728 §5.1: every 401 challenge names resource_metadata: no token, a bad token, a bound token as Bearer, a bad DPoP proof', async () => {
    const api = await startResourceApi(issuer, '/reports');
    try {
      const url = api.resource;
      await issuer.auth.registry.createResource(api.resource, ['reports:read']);
      const none = await callApi(url);
      expect(expectMetadataNamed(none, api.metadataUrl)).toEqual(['Bearer', 'DPoP']);
      expectMetadataNamed(await callApi(url, 'not-a-token'), api.metadataUrl);
      const key = dpopKey('ES256');
      const bound = await boundToken(issuer, client, key, { resource: api.resource });
      expectMetadataNamed(await dpopCall(url, { token: bound, scheme: 'Bearer' }), api.metadataUrl);
      const badProof = await dpopCall(url, { token: bound, proof: resourceProof(key, 'POST', url, bound) });
      expect(badProof.body?.error).toBe('invalid_dpop_proof');
      expectMetadataNamed(badProof, api.metadataUrl);
      // The token for this resource, with its proof, is accepted.
      expect((await dpopCall(url, { token: bound, proof: resourceProof(key, 'GET', url, bound) })).status).toBe(200);
    } finally {
      await api.stop();
    }
  });

  test.each([
    ['a path', '/reports'],
    ['no path', ''],
  ])(
    'oauth4webapi, knowing only the API URL (%s): resource_metadata from the 401, resourceDiscoveryRequest, the issuer from authorization_servers[0], an RFC 8707 token, a 200',
    async (_name, path) => {
      const api = await startResourceApi(issuer, path, { resourceName: 'Reports API' });
      try {
        await issuer.auth.registry.createResource(api.resource, ['reports:read']);
        const out = await runInterop('resource-discovery.mjs', { resource: api.resource, clientId: client.clientId, clientSecret: client.clientSecret });
        expect(out.failed).toBeUndefined();
        expect(out.challenge).toMatchObject({ name: 'WWWAuthenticateChallengeError', status: 401 });
        expect(out.resourceMetadataUrl).toBe(api.metadataUrl);
        expect(out.discoveryUrl).toBe(api.metadataUrl);
        expect(out.cacheControl).toBe('public, max-age=300');
        const document = {
          resource: api.resource,
          authorization_servers: [issuer.issuer],
          scopes_supported: ['reports:read'],
          bearer_methods_supported: ['header'],
          dpop_signing_alg_values_supported: DPOP_ALGS,
          resource_name: 'Reports API',
        };
        expect(out.fromChallenge).toEqual(document);
        expect(out.metadata).toEqual(document);
        expect(out.issuer).toBe(issuer.issuer);
        expect(out.tokens).toMatchObject({ token_type: 'bearer', scope: 'reports:read' });
        expect(out.call).toEqual({ status: 200, body: { clientId: client.clientId, tokenType: 'Bearer' } });
      } finally {
        await api.stop();
      }
    },
  );

  test('RFC 9728 §2 dpop_bound_access_tokens_required: true when the guard has dpop.required, and the challenges are DPoP only', async () => {
    const api = await startResourceApi(issuer, '/reports', {}, { dpop: { required: true } });
    try {
      const res = await httpRequest(api.metadataUrl);
      expect(res.json()).toMatchObject({ dpop_bound_access_tokens_required: true, dpop_signing_alg_values_supported: DPOP_ALGS });
      expect(expectMetadataNamed(await callApi(api.resource), api.metadataUrl)).toEqual(['DPoP']);
      // A bearer token for this resource is refused, and still names the metadata.
      await issuer.auth.registry.createResource(api.resource, ['reports:read']);
      const bearer = await issueTokenFor(issuer, client, api.resource);
      const refused = await callApi(api.resource, bearer);
      expect(refused.body?.error).toBe('invalid_token');
      expectMetadataNamed(refused, api.metadataUrl);
    } finally {
      await api.stop();
    }
  });

  test('without the option, protectedResourceMetadata() is a ConfigurationError and challenges name no metadata', async () => {
    const guard = remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE });
    expect(thrown(() => guard.protectedResourceMetadata())).toBe('ConfigurationError(protectedResource)');
    const app = express();
    app.get('/reports', guard.requireScope('reports:read'), echo);
    const api = await listen(app);
    try {
      const res = await callApi(`${api.origin}/reports`);
      expect(res.headers.get('www-authenticate')).not.toMatch(/resource_metadata/);
    } finally {
      await api.stop();
    }
  });

  test('RFC 9728 §1.2: a resource identifier with a query or a fragment, or not an http(s) URL, is a ConfigurationError; so is an empty authorizationServers', () => {
    const make = (protectedResource: ProtectedResourceOptions) => () => remoteGuard({ issuer: issuer.issuer, audience: API_AUDIENCE, protectedResource });
    const refused: Array<[string, ProtectedResourceOptions]> = [
      ['a query', { resource: 'https://api.example.com/reports?tenant=a' }],
      ['an empty query', { resource: 'https://api.example.com/reports?' }],
      ['a fragment', { resource: 'https://api.example.com/reports#top' }],
      ['an empty fragment', { resource: 'https://api.example.com/#' }],
      ['a relative URL', { resource: '/reports' }],
      ['another scheme', { resource: 'urn:example:reports' }],
    ];
    for (const [what, options] of refused)
      expect({ what, error: thrown(make(options)) }).toEqual({ what, error: 'ConfigurationError(protectedResource.resource)' });
    expect(thrown(make({ resource: 'https://api.example.com', authorizationServers: [] }))).toBe('ConfigurationError(protectedResource.authorizationServers)');
    expect(thrown(make({ resource: 'https://api.example.com/reports' }))).toBeNull();
  });
});

/** A bearer token for `resource` (RFC 8707 §2). */
async function issueTokenFor(issuer: TestIssuer, client: SeededClient, resource: string): Promise<string> {
  const res = await postForm(`${issuer.endpoints}/token`, client, { grant_type: 'client_credentials', resource });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
  return res.json().access_token as string;
}

describe('RFC 9728: the local guard, ccgate({ protectedResource }) and auth.protectedResourceMetadata()', () => {
  const RESOURCE = `${API_AUDIENCE}/reports`;
  const METADATA_URL = `${API_AUDIENCE}${PROTECTED_RESOURCE_WELL_KNOWN}/reports`;
  let issuer: TestIssuer;
  let client: SeededClient;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false, protectedResource: { resource: RESOURCE, scopes: ['reports:read', 'reports:write'] } });
    issuer.app.use(issuer.auth.protectedResourceMetadata());
    client = await seedClient(issuer.auth, ['reports:read']);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('the document names the issuer as the authorization server by default', async () => {
    const res: Reply = await httpRequest(`${issuer.origin}${PROTECTED_RESOURCE_WELL_KNOWN}/reports`);
    expect({ status: res.status, cacheControl: res.headers.get('cache-control') }).toEqual({ status: 200, cacheControl: 'public, max-age=300' });
    expect(res.json()).toEqual({
      resource: RESOURCE,
      authorization_servers: [issuer.issuer],
      scopes_supported: ['reports:read', 'reports:write'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: DPOP_ALGS,
    });
  });

  test("RFC 9728 §5.1: the local guard's 401 challenges name resource_metadata; a good token still passes", async () => {
    const url = `${issuer.origin}/local/reports`;
    expect(expectMetadataNamed(await callApi(url), METADATA_URL)).toEqual(['Bearer', 'DPoP']);
    expectMetadataNamed(await callApi(url, 'not-a-token'), METADATA_URL);
    expect((await callApi(url, await issueToken(issuer, client))).status).toBe(200);
  });

  test('with guardDpop.required, the document says dpop_bound_access_tokens_required', async () => {
    const strict = await startIssuer({ throttle: false, guardDpop: { required: true }, protectedResource: { resource: RESOURCE } });
    try {
      strict.app.use(strict.auth.protectedResourceMetadata());
      const res = await httpRequest(`${strict.origin}${PROTECTED_RESOURCE_WELL_KNOWN}/reports`);
      expect(res.json()).toMatchObject({ resource: RESOURCE, authorization_servers: [strict.issuer], dpop_bound_access_tokens_required: true });
      expect(expectMetadataNamed(await callApi(`${strict.origin}/local/reports`), METADATA_URL)).toEqual(['DPoP']);
      expect(strict.serverErrors).toEqual([]);
    } finally {
      await strict.close();
    }
  });

  // In a child process over dist/: ccgate() must throw before it starts anything (bcrypt workers, the
  // registry), so the process that caught the error can still exit on its own.
  test.each(['https://api.example.com/reports?x=1', 'https://api.example.com/reports#f'])(
    'ccgate() with the resource identifier %s is a ConfigurationError, and leaves nothing running',
    (resource) => {
      assertBuilt(join(DIST, 'index.js'));
      const { dir, cleanup } = tempDir('ccgate-prm-');
      try {
        const options = { ...TEST_OPTIONS, db: join(dir, 'ccgate.db'), protectedResource: { resource } };
        const script = `
          const { ccgate } = require(${JSON.stringify(join(DIST, 'index.js'))});
          try { ccgate(${JSON.stringify(options)}); console.log(JSON.stringify({ thrown: null })); }
          catch (err) { console.log(JSON.stringify({ thrown: err.name, option: err.option })); }`;
        const child = spawnSync(process.execPath, ['-e', script], { env: cleanEnv(), encoding: 'utf8', timeout: 10_000 });
        expect(JSON.parse(child.stdout)).toEqual({ thrown: 'ConfigurationError', option: 'protectedResource.resource' });
        // Killed by the timeout: something ccgate() started before throwing keeps the process alive.
        expect({ exited: child.signal === null, status: child.status }).toEqual({ exited: true, status: 0 });
      } finally {
        cleanup();
      }
    },
  );
});
