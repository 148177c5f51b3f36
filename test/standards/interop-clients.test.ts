/**
 * Interoperability, client side: third-party OAuth 2.0 client libraries against a real ccgate issuer
 * on loopback. oauth4webapi and openid-client are ESM-only, so they run in small .mjs scripts
 * (test/standards/interop/) under `node` as child processes and print JSON; simple-oauth2 is
 * CommonJS and runs in-process.
 */
import { ClientCredentials } from 'simple-oauth2';
import { API_AUDIENCE } from '../support/constants';
import { callApi, introspect } from '../support/oauth';
import { decodeJwt } from '../support/jwt';
import type { SeededClient } from '../support/clients';
import { startIssuer, type TestIssuer } from '../support/servers';
import { runInterop } from '../support/interop';

/** Caller-chosen secrets with the characters RFC 6749 §2.3.1 form-encoding must get right. */
const AWKWARD_SECRET = 'sp ace:colon+plus/sl%25pct&amp=eq?q#h\u00e9-\u20ac';
/** simple-oauth2 accepts printable ASCII secrets only. */
const ASCII_AWKWARD_SECRET = 'sp ace:colon+plus/sl%25pct&amp=eq?q#h"\\';

describe('interop: third-party clients against a ccgate issuer', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  /** The same secret, registered with client_secret_post (each client uses its own method, RFC 6749 §2.3). */
  let postClient: SeededClient;
  let rs: SeededClient;
  let asciiClient: SeededClient;
  let asciiPostClient: SeededClient;
  beforeAll(async () => {
    issuer = await startIssuer();
    await issuer.auth.registry.createGroup('reporters', ['reports:read', 'reports:write']);
    const created = await issuer.auth.registry.createClient({ name: 'interop', groups: ['reporters'], secret: AWKWARD_SECRET });
    client = { clientId: created.client.clientId, clientSecret: AWKWARD_SECRET, group: 'reporters' };
    const post = await issuer.auth.registry.createClient({
      name: 'interop post',
      groups: ['reporters'],
      secret: AWKWARD_SECRET,
      authMethod: 'client_secret_post',
    });
    postClient = { clientId: post.client.clientId, clientSecret: AWKWARD_SECRET, group: 'reporters', method: 'post' };
    const ascii = await issuer.auth.registry.createClient({ name: 'interop ascii', groups: ['reporters'], secret: ASCII_AWKWARD_SECRET });
    asciiClient = { clientId: ascii.client.clientId, clientSecret: ASCII_AWKWARD_SECRET, group: 'reporters' };
    const asciiPost = await issuer.auth.registry.createClient({
      name: 'interop ascii post',
      groups: ['reporters'],
      secret: ASCII_AWKWARD_SECRET,
      authMethod: 'client_secret_post',
    });
    asciiPostClient = { clientId: asciiPost.client.clientId, clientSecret: ASCII_AWKWARD_SECRET, group: 'reporters', method: 'post' };
    await issuer.auth.registry.createGroup('rs', ['ccgate:introspect']);
    const rsCreated = await issuer.auth.registry.createClient({ name: 'rs', groups: ['rs'] });
    rs = { clientId: rsCreated.client.clientId, clientSecret: rsCreated.clientSecret as string, group: 'rs' };
  });
  afterAll(() => issuer.close());
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('oauth4webapi: RFC 8414 discovery, client credentials (basic and post), RFC 7662 introspection, RFC 7009 revocation, strict processing', async () => {
    const out = await runInterop('oauth4webapi-client.mjs', {
      issuer: issuer.issuer,
      clientId: client.clientId,
      postClientId: postClient.clientId,
      clientSecret: client.clientSecret,
      scope: 'reports:read',
    });
    expect(out.failed).toBeUndefined();
    expect(out.metadata.issuer).toBe(issuer.issuer);
    expect(out.metadata.token_endpoint).toBe(`${issuer.endpoints}/token`);
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      const { tokens, introspection, afterRevocation } = out.grants[method];
      expect({ method, token_type: tokens.token_type, scope: tokens.scope, expires_in: tokens.expires_in }).toEqual({
        method,
        token_type: 'bearer',
        scope: 'reports:read',
        expires_in: 900,
      });
      const clientId = method === 'client_secret_post' ? postClient.clientId : client.clientId;
      expect(decodeJwt(tokens.access_token).payload).toMatchObject({ iss: issuer.issuer, aud: API_AUDIENCE, client_id: clientId });
      expect(introspection).toMatchObject({ active: true, client_id: clientId, scope: 'reports:read', token_type: 'Bearer' });
      expect(afterRevocation).toEqual({ active: false });
      // The revocation is real: the issuer's own guard now refuses the token.
      expect((await callApi(`${issuer.origin}/local/reports`, tokens.access_token)).status).toBe(401);
    }
    // RFC 6749 §5.2: 401 invalid_client with a WWW-Authenticate challenge, which oauth4webapi reports as such.
    expect(out.wrongSecret).toMatchObject({
      name: 'WWWAuthenticateChallengeError',
      status: 401,
      challenges: [{ scheme: 'basic', parameters: { realm: 'ccgate' } }],
    });
  });

  test('openid-client v6: discovery (algorithm oauth2) + clientCredentialsGrant, introspection, revocation', async () => {
    const out = await runInterop('openid-client.mjs', {
      issuer: issuer.issuer,
      clientId: client.clientId,
      postClientId: postClient.clientId,
      clientSecret: client.clientSecret,
      scope: 'reports:read reports:write',
    });
    expect(out.failed).toBeUndefined();
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      const result = out[method];
      expect(result.serverMetadata.issuer).toBe(issuer.issuer);
      expect(result.tokens).toMatchObject({ token_type: 'bearer', expires_in: 900, scope: 'reports:read reports:write' });
      expect(result.introspection).toMatchObject({ active: true, client_id: method === 'client_secret_post' ? postClient.clientId : client.clientId });
      expect(result.afterRevocation).toEqual({ active: false });
    }
    expect(out.directMetadataUrl).toEqual({ issuer: issuer.issuer, scope: 'reports:read reports:write' });
    // ccgate is no OpenID provider: openid-client's default (OIDC) discovery finds nothing, so pass algorithm 'oauth2'.
    expect(out.oidcDiscovery).toMatchObject({ message: 'unexpected HTTP response status code' });
  });

  test.each([
    ['header', 'client_secret_basic'],
    ['body', 'client_secret_post'],
  ] as const)('simple-oauth2: ClientCredentials.getToken with authorizationMethod %s (%s)', async (authorizationMethod, method) => {
    const registered = method === 'client_secret_post' ? asciiPostClient : asciiClient;
    const oauth = new ClientCredentials({
      client: { id: registered.clientId, secret: registered.clientSecret },
      auth: { tokenHost: issuer.origin, tokenPath: '/oauth/token' },
      options: { authorizationMethod },
    });
    const accessToken = await oauth.getToken({ scope: 'reports:write' });
    expect(accessToken.token).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'reports:write' });
    expect(accessToken.expired()).toBe(false);
    const token = accessToken.token.access_token as string;
    expect((await introspect(issuer, rs, { token })).json()).toMatchObject({ active: true, scope: 'reports:write' });
  });

  test('simple-oauth2: a refused request surfaces the RFC 6749 §5.2 error body', async () => {
    const oauth = new ClientCredentials({
      client: { id: asciiClient.clientId, secret: asciiClient.clientSecret },
      auth: { tokenHost: issuer.origin, tokenPath: '/oauth/token' },
    });
    const err = await oauth.getToken({ scope: 'admin:everything' }).then(
      () => null,
      (e: { output?: { statusCode: number }; data?: { payload?: unknown } }) => e,
    );
    expect(err?.output?.statusCode).toBe(400);
    expect(err?.data?.payload).toMatchObject({ error: 'invalid_scope' });
  });
});
