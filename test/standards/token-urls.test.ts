/**
 * RFC 8725 §3.10 / RFC 7515 §4.1.2-§4.1.5: nothing named by a token is fetched or trusted. Tokens whose
 * jku / x5u / jwk (and a URL-shaped kid) point at a real server we control on loopback, signed with a
 * key ccgate never published, must be rejected without a single connection to that server, by every
 * validator: the remote guard in both modes, the issuer's local guard, introspection, revocation.
 */
import { countingFetch, listen } from '../support/http';
import { callApi, introspect, issueToken, revoke } from '../support/oauth';
import { claimsFrom, foreignKey, signJws, verifiesWithJwk } from '../support/jwt';
import { seedClient, type SeededClient } from '../support/clients';
import { startIssuer, startRemoteApi, type TestApi, type TestIssuer } from '../support/servers';

interface Trap {
  origin: string;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

/**
 * A server that would make the attack work if anyone asked it: it answers every path with the
 * attacker's key set (and metadata naming itself). It counts TCP connections, not just requests.
 */
async function startTrap(attackerJwk: Record<string, string>): Promise<Trap> {
  const trap: Trap = { origin: '', connections: 0, requests: [], close: async () => undefined };
  const listening = await listen((req, res) => {
    trap.requests.push(req.url ?? '');
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ keys: [attackerJwk], issuer: trap.origin, jwks_uri: `${trap.origin}/jwks` }));
  });
  listening.server.on('connection', () => trap.connections++);
  trap.origin = listening.origin;
  trap.close = listening.stop;
  return trap;
}

describe('RFC 8725 §3.10: no URL from a token is ever fetched (jku, x5u, jwk, kid)', () => {
  const attacker = foreignKey();
  const attackerKid = 'attacker-key-1';
  const attackerJwk = { ...attacker.publicJwk, kid: attackerKid, alg: 'RS256', use: 'sig' };
  let trap: Trap;
  let issuer: TestIssuer;
  let owner: SeededClient;
  let rs: SeededClient;
  let jwksApi: TestApi;
  let introspectionApi: TestApi;
  let jwksFetch: ReturnType<typeof countingFetch>;
  let introspectionFetch: ReturnType<typeof countingFetch>;
  let tokens: Array<[string, string]>;

  beforeAll(async () => {
    trap = await startTrap(attackerJwk);
    issuer = await startIssuer();
    owner = await seedClient(issuer.auth, ['reports:read']);
    rs = await seedClient(issuer.auth, ['ccgate:introspect']);
    jwksFetch = countingFetch();
    introspectionFetch = countingFetch();
    jwksApi = await startRemoteApi(issuer, { fetch: jwksFetch.fetch, jwksCooldown: 0 });
    introspectionApi = await startRemoteApi(issuer, {
      mode: 'introspection',
      clientId: rs.clientId,
      clientSecret: rs.clientSecret,
      introspectionCacheSeconds: 0,
      fetch: introspectionFetch.fetch,
    });
    // Warm both guards with a real token so the issuer's keys are held.
    const real = await issueToken(issuer, owner);
    expect((await callApi(`${jwksApi.origin}/reports`, real)).status).toBe(200);
    expect((await callApi(`${introspectionApi.origin}/reports`, real)).status).toBe(200);

    const claims = () => claimsFrom(issuer.issuer, owner.clientId);
    const sign = (header: Record<string, unknown>) => signJws(attacker.privateKeyPem, 'RS256', { alg: 'RS256', typ: 'at+jwt', ...header }, claims());
    const x5c = Buffer.from('not really a certificate').toString('base64');
    tokens = [
      ['jku', sign({ kid: attackerKid, jku: `${trap.origin}/jwks` })],
      ['x5u', sign({ kid: attackerKid, x5u: `${trap.origin}/cert.pem` })],
      ['jwk', sign({ kid: attackerKid, jwk: attackerJwk })],
      ['jwk without kid', sign({ jwk: attackerJwk })],
      ['x5c', sign({ kid: attackerKid, x5c: [x5c] })],
      ['kid is a URL', sign({ kid: `${trap.origin}/keys/1` })],
      ['all at once', sign({ kid: `${trap.origin}/k`, jku: `${trap.origin}/jwks`, x5u: `${trap.origin}/x5u`, jwk: attackerJwk })],
    ];
  });

  afterAll(async () => {
    await jwksApi.stop();
    await introspectionApi.stop();
    await issuer.close();
    await trap.close();
  });

  afterEach(() => {
    expect(trap.connections).toBe(0);
    expect(trap.requests).toEqual([]);
    expect(issuer.serverErrors).toEqual([]);
  });

  test('the trap would work: the key it serves verifies every one of these tokens (sanity check of the setup)', async () => {
    // Fetch the trap once ourselves, as a validator trusting jku would...
    const served = ((await (await fetch(`${trap.origin}/jwks`)).json()) as { keys: Array<Record<string, string>> }).keys[0];
    for (const [name, token] of tokens) {
      expect({ name, verifies: verifiesWithJwk(token, served) }).toEqual({ name, verifies: true });
    }
    // ...then forget that connection: the assertions are about the validators.
    trap.connections = 0;
    trap.requests.length = 0;
  });

  test('remote guard, JWKS mode: rejected (401 invalid_token); it only ever fetched from the issuer', async () => {
    for (const [name, token] of tokens) {
      const res = await callApi(`${jwksApi.origin}/reports`, token);
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
    expect(jwksFetch.urls.every((u) => u.startsWith(`${issuer.origin}/`))).toBe(true);
  });

  test('remote guard, introspection mode: rejected; it only ever asked the issuer', async () => {
    for (const [name, token] of tokens) {
      expect({ name, status: (await callApi(`${introspectionApi.origin}/reports`, token)).status }).toEqual({ name, status: 401 });
    }
    expect(introspectionFetch.urls.every((u) => u.startsWith(`${issuer.origin}/`))).toBe(true);
  });

  test("the issuer's local guard: rejected", async () => {
    for (const [name, token] of tokens) {
      expect({ name, status: (await callApi(`${issuer.origin}/local/reports`, token)).status }).toEqual({ name, status: 401 });
    }
  });

  test('RFC 7662 introspection: {active:false}', async () => {
    for (const [name, token] of tokens) {
      expect({ name, body: (await introspect(issuer, rs, { token })).json() }).toEqual({ name, body: { active: false } });
    }
  });

  test('RFC 7009 revocation: 200 and nothing happens', async () => {
    for (const [name, token] of tokens) {
      expect({ name, status: (await revoke(issuer, owner, { token })).status }).toEqual({ name, status: 200 });
    }
  });
});
