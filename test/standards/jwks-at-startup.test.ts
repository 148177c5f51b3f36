/**
 * The JWKS is never empty: the issuer makes its signing key when its token router is built, not on
 * the first token. A resource server that loads the key set before any token exists then holds the
 * key that will sign, so the first token verifies at once, instead of failing for the remote key
 * set's cooldown (30 s with jose and with remoteGuard) as an unknown kid.
 */
import { httpRequest } from '../support/http';
import { callApi, issueToken } from '../support/oauth';
import { seedClient } from '../support/clients';
import { foreignKey, forge, kidOf } from '../support/jwt';
import { runInterop } from '../support/interop';
import { startIssuer, startRemoteApi, type TestApi, type TestIssuer } from '../support/servers';
import { API_AUDIENCE } from '../support/constants';

describe('JWKS at startup', () => {
  let issuer: TestIssuer;
  let api: TestApi | undefined;
  /** JWKS requests the issuer served. */
  let jwksRequests: number;

  beforeEach(async () => {
    issuer = await startIssuer();
    jwksRequests = 0;
    issuer.server.on('request', (req: { url?: string }) => {
      if (req.url?.endsWith('/jwks')) jwksRequests++;
    });
  });
  afterEach(async () => {
    await api?.stop();
    api = undefined;
    expect(issuer.serverErrors).toEqual([]);
    await issuer.close();
  });

  test('RFC 7517 §5: a fresh issuer publishes its signing key before any token was issued', async () => {
    const res = await httpRequest(`${issuer.endpoints}/jwks`);
    expect(res.status).toBe(200);
    const keys = res.json().keys as Array<{ kid: string; alg: string }>;
    expect(keys).toHaveLength(1);
    expect(keys[0].alg).toBe('RS256');
    // The first token is signed by that very key.
    const token = await issueToken(issuer, await seedClient(issuer.auth));
    expect(kidOf(token)).toBe(keys[0].kid);
  });

  test("jose's createRemoteJWKSet, loaded before the first token, verifies it without another fetch", async () => {
    const client = await seedClient(issuer.auth);
    const out = await runInterop('jose-jwks-first.mjs', {
      issuer: issuer.issuer,
      audience: API_AUDIENCE,
      jwksUri: `${issuer.endpoints}/jwks`,
      tokenEndpoint: `${issuer.endpoints}/token`,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
    });
    expect(out).toEqual({ keysAtStart: 1, fetches: 1, ok: true });
  });

  test('remoteGuard that fetched the JWKS before any token (30 s cooldown) accepts the first token at once', async () => {
    api = await startRemoteApi(issuer, { jwksCooldown: 30 });
    // A request before any token exists (a forged token of an unknown kid) makes the guard load the set.
    const forged = forge({ kid: 'unknown-kid', privateKeyPem: foreignKey().privateKeyPem }, { sub: 'x' });
    expect((await callApi(`${api.origin}/reports`, forged)).status).toBe(401);
    expect(jwksRequests).toBe(1);
    const token = await issueToken(issuer, await seedClient(issuer.auth));
    expect((await callApi(`${api.origin}/reports`, token)).status).toBe(200);
    expect(jwksRequests).toBe(1);
  });
});
