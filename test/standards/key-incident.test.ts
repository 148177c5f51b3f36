/**
 * A leaked signing key, on the wire: tokens it could mint are bounded in lifetime at every
 * validator (the local guard, introspection, both remote-guard modes), and `revokeKey` /
 * `ccgate key revoke` kill it at once. Real issuer and API servers on loopback, a real SQLite file,
 * keys encrypted at rest; the CLI runs as a child process.
 */
import { randomBytes } from 'node:crypto';
import { remoteGuard, type AuditEvent } from '../../lib';
import { runCliAsync } from '../support/cli';
import { API_AUDIENCE } from '../support/constants';
import { countingFetch, httpRequest } from '../support/http';
import { callApi, introspect, issueToken, parseChallenge } from '../support/oauth';
import { claimsFrom, foreignKey, kidOf, realKey, signJws, type RealKey } from '../support/jwt';
import { seedClient, type SeededClient } from '../support/clients';
import { startApi, startIssuer, startRemoteApi, type TestApi, type TestIssuer } from '../support/servers';
import { nowSeconds } from '../support/time';

const KEY_SECRET = randomBytes(32).toString('base64');
const DAY = 86_400;

/** A token signed with the registry's real private key, with the times given. */
function minted(issuer: TestIssuer, key: RealKey, clientId: string, times: { iat?: number; exp: number }): string {
  return signJws(key.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: key.kid }, claimsFrom(issuer.issuer, clientId, times));
}

const description = (reply: { headers: Headers }): string => parseChallenge(reply.headers.get('www-authenticate') ?? undefined).params.error_description;

async function publishedKids(issuer: TestIssuer): Promise<string[]> {
  return ((await httpRequest(`${issuer.endpoints}/jwks`)).json().keys as Array<{ kid: string }>).map((k) => k.kid);
}

describe('a key leak cannot mint long-lived tokens: exp - iat over 86,400 s is refused everywhere', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let resourceServer: SeededClient;
  let key: RealKey;
  let jwksApi: TestApi;
  let introspectionApi: TestApi;
  beforeAll(async () => {
    issuer = await startIssuer({ keySecret: KEY_SECRET });
    client = await seedClient(issuer.auth, ['reports:read']);
    resourceServer = await seedClient(issuer.auth, ['ccgate:introspect']);
    await issueToken(issuer, client);
    key = await realKey(issuer);
    jwksApi = await startRemoteApi(issuer);
    introspectionApi = await startRemoteApi(issuer, { mode: 'introspection', clientId: resourceServer.clientId, clientSecret: resourceServer.clientSecret });
  });
  afterAll(async () => {
    await jwksApi.stop();
    await introspectionApi.stop();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  /** What each validator says of a token: local guard, introspection, remote guard (JWKS), remote guard (introspection). */
  async function verdicts(token: string) {
    return {
      local: (await callApi(`${issuer.origin}/local/reports`, token)).status,
      introspection: (await introspect(issuer, resourceServer, { token })).json().active as boolean,
      remoteJwks: (await callApi(`${jwksApi.origin}/reports`, token)).status,
      remoteIntrospection: (await callApi(`${introspectionApi.origin}/reports`, token)).status,
    };
  }

  test('exp - iat = 86,400 s (the longest an issuer gives) passes every validator', async () => {
    const now = nowSeconds();
    expect(await verdicts(minted(issuer, key, client.clientId, { iat: now, exp: now + DAY }))).toEqual({
      local: 200,
      introspection: true,
      remoteJwks: 200,
      remoteIntrospection: 200,
    });
  });

  test.each([
    ['exp - iat = 86,401 s', (now: number) => ({ iat: now, exp: now + DAY + 1 })],
    ['ten years', (now: number) => ({ iat: now, exp: now + 10 * 365 * DAY })],
    ['iat an hour ahead (a day-long token that starts later)', (now: number) => ({ iat: now + 3600, exp: now + 3600 + 600 })],
  ])('%s, signed with the real key: refused by every validator', async (_name, times) => {
    const token = minted(issuer, key, client.clientId, times(nowSeconds()));
    expect(await verdicts(token)).toEqual({ local: 401, introspection: false, remoteJwks: 401, remoteIntrospection: 401 });
    const local = await callApi(`${issuer.origin}/local/reports`, token);
    expect(description(local)).toMatch(/lives longer than the 86400 seconds|issued in the future/);
    expect(description(await callApi(`${jwksApi.origin}/reports`, token))).toBe(description(local));
  });
});

describe('the remote guard in introspection mode checks the lifetime of what the issuer answers', () => {
  test('active: true for a token living over a day (or, without iat, ending over a day ahead) is refused', async () => {
    const now = nowSeconds();
    let answer: Record<string, unknown> = {};
    const fetch = (): Promise<Response> => Promise.resolve(new Response(JSON.stringify(answer), { headers: { 'Content-Type': 'application/json' } }));
    const guard = remoteGuard({
      mode: 'introspection',
      issuer: 'https://issuer.example',
      audience: API_AUDIENCE,
      clientId: 'api',
      clientSecret: 'api-secret-api-secret',
      introspectionEndpoint: 'https://issuer.example/introspect',
      introspectionCacheSeconds: 0,
      introspectionNegativeCacheSeconds: 0,
      fetch,
    });
    const api = await startApi(guard);
    try {
      const base = { active: true, client_id: 'c', scope: 'reports:read', aud: API_AUDIENCE, iss: 'https://issuer.example' };
      const cases: Array<[Record<string, unknown>, number]> = [
        [{ iat: now, exp: now + 600 }, 200],
        [{ iat: now, exp: now + DAY + 1 }, 401],
        [{ exp: now + 600 }, 200],
        [{ exp: now + 2 * DAY }, 401],
      ];
      for (const [times, status] of cases) {
        answer = { ...base, ...times };
        const res = await callApi(`${api.origin}/reports`, `opaque-${randomBytes(4).toString('hex')}`);
        expect({ times, status: res.status }).toEqual({ times, status });
      }
    } finally {
      await api.stop();
    }
  });
});

describe('a leaked key, killed at once: auth.revokeKey / ccgate key revoke', () => {
  let issuer: TestIssuer;
  let client: SeededClient;
  let resourceServer: SeededClient;
  beforeEach(async () => {
    issuer = await startIssuer({ keySecret: KEY_SECRET });
    client = await seedClient(issuer.auth, ['reports:read']);
    resourceServer = await seedClient(issuer.auth, ['ccgate:introspect']);
  });
  afterEach(async () => {
    expect(issuer.serverErrors).toEqual([]);
    await issuer.close();
  });

  test('auth.revokeKey: its tokens fail at the very next request (cached ones too), the JWKS drops it, a new key signs', async () => {
    const events: AuditEvent[] = [];
    issuer.auth.events.on('*', (e) => events.push(e));
    const token = await issueToken(issuer, client);
    const kid = kidOf(token);
    const jwksApi = await startRemoteApi(issuer, { jwksMaxAge: 0, jwksCooldown: 0 });
    try {
      // Twice each: the second sight comes from the verified-token caches.
      for (let i = 0; i < 2; i++) {
        expect((await callApi(`${issuer.origin}/local/reports`, token)).status).toBe(200);
        expect((await callApi(`${jwksApi.origin}/reports`, token)).status).toBe(200);
      }
      expect((await introspect(issuer, resourceServer, { token })).json().active).toBe(true);

      const revoked = await issuer.auth.revokeKey(kid);
      expect(revoked).toMatchObject({ kid, status: 'active' });

      const refused = await callApi(`${issuer.origin}/local/reports`, token);
      expect(refused.status).toBe(401);
      expect(description(refused)).toBe('The access token was signed by an unknown key.');
      expect((await introspect(issuer, resourceServer, { token })).json()).toEqual({ active: false });
      // A remote guard sees it at its next key set fetch (here: every request, jwksMaxAge 0).
      expect((await callApi(`${jwksApi.origin}/reports`, token)).status).toBe(401);
      expect(await publishedKids(issuer)).not.toContain(kid);

      const fresh = await issueToken(issuer, client);
      expect(kidOf(fresh)).not.toBe(kid);
      expect(await publishedKids(issuer)).toEqual([kidOf(fresh)]);
      expect((await callApi(`${issuer.origin}/local/reports`, fresh)).status).toBe(200);
      expect((await callApi(`${jwksApi.origin}/reports`, fresh)).status).toBe(200);
      expect(events.filter((e) => e.type === 'key.revoked')).toEqual([expect.objectContaining({ kid, alg: 'RS256', status: 'active' })]);
    } finally {
      await jwksApi.stop();
    }
  });

  test('`ccgate key revoke KID` (the built CLI, another process) against the running server: the next request is refused', async () => {
    const token = await issueToken(issuer, client);
    const kid = kidOf(token);
    expect((await callApi(`${issuer.origin}/local/reports`, token)).status).toBe(200);
    expect((await callApi(`${issuer.origin}/local/reports`, token)).status).toBe(200); // now in the verified cache
    // The CLI needs no key secret to revoke (it never opens a private key).
    const cli = await runCliAsync(['--json', 'key', 'revoke', kid], { db: issuer.dbPath });
    expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(cli.stdout)).toEqual({ revoked: kid, alg: 'RS256', status: 'active' });

    expect((await callApi(`${issuer.origin}/local/reports`, token)).status).toBe(401);
    expect(await publishedKids(issuer)).not.toContain(kid);
    const fresh = await issueToken(issuer, client);
    expect(kidOf(fresh)).not.toBe(kid);
    expect((await callApi(`${issuer.origin}/local/reports`, fresh)).status).toBe(200);
  });
});

describe('remote guard refetch: a garbage kid right before a rotation does not lock out the new key', () => {
  test('with a long cooldown, the new key validates after at most the short refetch interval', async () => {
    const issuer = await startIssuer({ keySecret: KEY_SECRET });
    const counter = countingFetch();
    // The cooldown of old would refuse the new kid for an hour after the garbage token's fetch.
    const api = await startRemoteApi(issuer, { fetch: counter.fetch, jwksCooldown: 3600, jwksMaxAge: 3600 });
    try {
      const client = await seedClient(issuer.auth);
      expect((await callApi(`${api.origin}/reports`, await issueToken(issuer, client))).status).toBe(200);
      const attacker = foreignKey();
      const garbage = signJws(attacker.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', kid: 'garbage' }, claimsFrom(issuer.issuer, client.clientId));
      expect((await callApi(`${api.origin}/reports`, garbage)).status).toBe(401);
      expect(counter.count('/jwks')).toBe(2);

      const rotated = await issuer.auth.rotateKey({ leadSeconds: 0 });
      const fresh = await issueToken(issuer, client);
      expect(kidOf(fresh)).toBe(rotated.kid);
      expect((await callApi(`${api.origin}/reports`, fresh)).status).toBe(200);
      expect(counter.count('/jwks')).toBe(3);
      expect(issuer.serverErrors).toEqual([]);
    } finally {
      await api.stop();
      await issuer.close();
    }
  });
});
