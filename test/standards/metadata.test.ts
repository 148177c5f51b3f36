/** RFC 8414: authorization server metadata, served by a real issuer on loopback. */
import { httpRequest } from '../support/http';
import { postForm } from '../support/oauth';
import { seedClient } from '../support/clients';
import { startIssuer, type TestIssuer } from '../support/servers';
import { METADATA_PATH } from '../support/constants';

describe('RFC 8414 authorization server metadata', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer({ jwksMaxAge: 120 });
    await issuer.auth.registry.createGroup('readers', ['reports:read', 'reports:write']);
    await issuer.auth.registry.createGroup('introspectors', ['ccgate:introspect']);
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('§3: served at /.well-known/oauth-authorization-server as a JSON object (§3.2)', async () => {
    const res = await httpRequest(`${issuer.origin}${METADATA_PATH}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(typeof res.json()).toBe('object');
  });

  test('§2: issuer, endpoints, grant types, auth methods, scopes, response types', async () => {
    const m = (await httpRequest(`${issuer.origin}${METADATA_PATH}`)).json();
    const base = `${issuer.origin}/oauth`;
    expect(m).toEqual({
      issuer: issuer.issuer,
      token_endpoint: `${base}/token`,
      jwks_uri: `${base}/jwks`,
      introspection_endpoint: `${base}/introspect`,
      revocation_endpoint: `${base}/revoke`,
      scopes_supported: ['ccgate:introspect', 'reports:read', 'reports:write'],
      response_types_supported: [],
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256', 'ES256'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      introspection_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256', 'ES256'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      revocation_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256', 'ES256'],
      dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256'],
    });
  });

  test('§3.3: the issuer member is identical to the issuer identifier the metadata was fetched for', async () => {
    const m = (await httpRequest(`${issuer.origin}${METADATA_PATH}`)).json();
    expect(m.issuer).toBe(issuer.issuer);
    expect(new URL(`${m.issuer}`).origin).toBe(issuer.origin);
  });

  test('§2: scopes_supported follows the registry (a new group scope appears)', async () => {
    await issuer.auth.registry.createGroup('late', ['late:scope']);
    const m = (await httpRequest(`${issuer.origin}${METADATA_PATH}`)).json();
    expect(m.scopes_supported).toContain('late:scope');
    await issuer.auth.registry.deleteGroup('late', { force: true });
    expect((await httpRequest(`${issuer.origin}${METADATA_PATH}`)).json().scopes_supported).not.toContain('late:scope');
  });

  test('§2: every advertised endpoint is real (token, jwks, introspection, revocation answer at those URLs)', async () => {
    const m = (await httpRequest(`${issuer.origin}${METADATA_PATH}`)).json();
    const client = await seedClient(issuer.auth, ['reports:read']);
    const token = await postForm(m.token_endpoint, client, { grant_type: 'client_credentials' });
    expect(token.status).toBe(200);
    const jwks = await httpRequest(m.jwks_uri);
    expect(jwks.status).toBe(200);
    expect(Array.isArray(jwks.json().keys)).toBe(true);
    const active = await postForm(m.introspection_endpoint, client, { token: token.json().access_token });
    expect(active.json().active).toBe(true);
    expect((await postForm(m.revocation_endpoint, client, { token: token.json().access_token })).status).toBe(200);
  });

  test('the metadata is cacheable for jwksMaxAge seconds', async () => {
    const res = await httpRequest(`${issuer.origin}${METADATA_PATH}`);
    expect(res.headers.get('cache-control')).toBe('public, max-age=120');
  });

  test('§3.1: other well-known suffixes are not served', async () => {
    expect((await httpRequest(`${issuer.origin}${METADATA_PATH}/other`)).status).toBe(404);
  });
});

describe('RFC 8414 §3.1: issuer identifier with a path component', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer({ issuerPath: '/tenant-a' });
  });
  afterAll(() => issuer.close());

  test('the well-known segment goes between the host and the path', async () => {
    const res = await httpRequest(`${issuer.origin}${METADATA_PATH}/tenant-a`);
    expect(res.status).toBe(200);
    const m = res.json();
    expect(m.issuer).toBe(`${issuer.origin}/tenant-a`);
    expect(m.token_endpoint).toBe(`${issuer.origin}/tenant-a/oauth/token`);
    expect((await httpRequest(`${issuer.origin}${METADATA_PATH}`)).status).toBe(404);
    expect((await httpRequest(m.jwks_uri)).status).toBe(200);
  });
});

describe('RFC 8414 §2: mountPath and a trailing slash in the issuer', () => {
  test('endpoints follow mountPath', async () => {
    const issuer = await startIssuer({ mountPath: '/auth/v1/' });
    try {
      const m = (await httpRequest(`${issuer.origin}${METADATA_PATH}`)).json();
      expect(m.token_endpoint).toBe(`${issuer.origin}/auth/v1/token`);
      expect(m.jwks_uri).toBe(`${issuer.origin}/auth/v1/jwks`);
      expect((await httpRequest(m.jwks_uri)).status).toBe(200);
    } finally {
      await issuer.close();
    }
  });

  test('an issuer ending in "/" is echoed verbatim and its endpoints have no double slash', async () => {
    const issuer = await startIssuer({ trailingSlash: true });
    try {
      const m = (await httpRequest(`${issuer.origin}${METADATA_PATH}`)).json();
      expect(m.issuer).toBe(`${issuer.origin}/`);
      expect(m.token_endpoint).toBe(`${issuer.origin}/oauth/token`);
    } finally {
      await issuer.close();
    }
  });
});
