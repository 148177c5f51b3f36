/**
 * private_key_jwt clients whose keys are at a jwks_uri (RFC 7591 §2): the client's JWKS server is a
 * real node:http server on 127.0.0.1 that counts its requests, the issuer fetches it over plain http
 * only because allowLoopbackHttpJwksUri is on. Key rollover at the client, a jwks_uri that is down,
 * slow or broken, garbage kids, and what the registry accepts as a client's keys.
 */
import { randomBytes } from 'node:crypto';
import { RegistryError } from '../../lib';
import { AssertingClient, clientKey, closedPortUrl, jwksOf, startJwksServer, tokenWithAssertion, type ClientKey, type JwksServer } from '../support/assertions';
import { seedKeyClient } from '../support/clients';
import { EventLog } from '../support/events';
import type { Reply } from '../support/http';
import { expectInvalidClient, responseOf } from '../support/oauth';
import { startIssuer, type TestIssuer } from '../support/servers';
import { timed } from '../support/time';

/** A generous "settles within" bound for a refusal that depends on a dead or silent jwks_uri. */
const SETTLES_WITHIN_MS = 8000;

/** RFC 6749 §5.2's invalid_client, and the detail of the one client.auth_failed event it caused. */
function expectRefused(res: Reply, log: EventLog): string | undefined {
  expectInvalidClient(responseOf(res));
  const events = log.ofType('client.auth_failed');
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ method: 'private_key_jwt', reason: 'invalid_credentials' });
  return events[0].detail;
}

describe('private_key_jwt with a jwks_uri (allowLoopbackHttpJwksUri)', () => {
  let issuer: TestIssuer;
  let log: EventLog;
  const servers: JwksServer[] = [];
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: false, allowLoopbackHttpJwksUri: true });
    log = new EventLog(issuer.auth);
  });
  beforeEach(() => log.clear());
  afterAll(async () => {
    log.stop();
    await Promise.all(servers.map((s) => s.stop()));
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  /** A JWKS server of its own serving `jwks`, and a client registered with its URL (each test its own: no cache or cooldown shared). */
  async function clientAt(key: ClientKey, jwks: unknown = jwksOf(key)): Promise<{ server: JwksServer; client: AssertingClient }> {
    const server = await startJwksServer(jwks);
    servers.push(server);
    const seeded = await seedKeyClient(issuer.auth, { jwksUri: server.url });
    return { server, client: new AssertingClient(seeded.clientId, key, issuer.issuer) };
  }

  test('RFC 7591 §2 jwks_uri: registered without a fetch; fetched on first use, then served from the cache', async () => {
    const key = clientKey('ES256');
    const { server, client } = await clientAt(key);
    const record = await issuer.auth.registry.getClient(client.clientId);
    expect(record).toMatchObject({ authMethod: 'private_key_jwt', jwksUri: server.url, jwks: null, secrets: [] });
    expect(server.requests).toBe(0);
    expect((await tokenWithAssertion(issuer, client.assertion())).status).toBe(200);
    expect(server.requests).toBe(1);
    for (let i = 0; i < 5; i++) expect((await tokenWithAssertion(issuer, client.assertion())).status).toBe(200);
    expect(server.requests).toBe(1);
  });

  test('a key rollover at the client is picked up: an assertion with a new kid makes the set be fetched again', async () => {
    const oldKey = clientKey('RS256');
    const { server, client } = await clientAt(oldKey);
    expect((await tokenWithAssertion(issuer, client.assertion())).status).toBe(200);
    const newKey = clientKey('ES256');
    server.serve(jwksOf(newKey));
    const rolled = new AssertingClient(client.clientId, newKey, issuer.issuer);
    const { value: res, ms } = await timed(() => tokenWithAssertion(issuer, rolled.assertion()));
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(SETTLES_WITHIN_MS);
    expect(server.requests).toBe(2);
    // The old key is gone from the set the issuer now holds.
    log.clear();
    expect(expectRefused(await tokenWithAssertion(issuer, client.assertion()), log)).toBe('unknown_key');
    expect((await tokenWithAssertion(issuer, rolled.assertion())).status).toBe(200);
  });

  test(`garbage kids: 20 assertions with random kids cause at most 4 fetches, and the real key keeps working`, async () => {
    const key = clientKey('RS256');
    const { server, client } = await clientAt(key);
    expect((await tokenWithAssertion(issuer, client.assertion())).status).toBe(200);
    const before = server.requests;
    const garbage = () => tokenWithAssertion(issuer, client.assertion({}, { kid: randomBytes(8).toString('hex') }));
    const concurrent = await Promise.all(Array.from({ length: 10 }, garbage));
    const sequential: Reply[] = [];
    for (let i = 0; i < 10; i++) sequential.push(await garbage());
    for (const res of [...concurrent, ...sequential]) expectInvalidClient(responseOf(res));
    expect(log.ofType('client.auth_failed').map((e) => e.detail)).toEqual(Array(20).fill('unknown_key'));
    expect(server.requests - before).toBeLessThanOrEqual(4);
    expect((await tokenWithAssertion(issuer, client.assertion())).status).toBe(200);
  });

  test(`an unreachable jwks_uri (nothing listening): 401 invalid_client, settling within ${SETTLES_WITHIN_MS} ms`, async () => {
    const key = clientKey('ES256');
    const seeded = await seedKeyClient(issuer.auth, { jwksUri: await closedPortUrl() });
    const client = new AssertingClient(seeded.clientId, key, issuer.issuer);
    const { value: res, ms } = await timed(() => tokenWithAssertion(issuer, client.assertion(), {}, { timeoutMs: 20_000 }));
    expect(ms).toBeLessThan(SETTLES_WITHIN_MS);
    expect(expectRefused(res, log)).toBe('keys_unavailable');
  });

  test(`a jwks_uri that never answers: 401 invalid_client within ${SETTLES_WITHIN_MS} ms, concurrent assertions share the wait`, async () => {
    const key = clientKey('ES256');
    const { server, client } = await clientAt(key);
    server.hang();
    const { value: results, ms } = await timed(() =>
      Promise.all(Array.from({ length: 5 }, () => tokenWithAssertion(issuer, client.assertion(), {}, { timeoutMs: 20_000 }))),
    );
    expect(ms).toBeLessThan(SETTLES_WITHIN_MS);
    for (const res of results) expectInvalidClient(responseOf(res));
    expect(log.ofType('client.auth_failed').map((e) => e.detail)).toEqual(Array(5).fill('keys_unavailable'));
    expect(server.requests).toBeLessThanOrEqual(2);
  });

  test.each([
    ['HTTP 500', 500, 'oops', 'text/plain'],
    ['HTML', 200, '<html>not a key set</html>', 'text/html'],
    ['JSON that is no JWK Set', 200, '{"keys":"none"}', 'application/json'],
  ])('a jwks_uri answering %s: 401 invalid_client (keys_unavailable)', async (_what, status, body, contentType) => {
    const key = clientKey('ES256');
    const { server, client } = await clientAt(key);
    server.answer(status, body, contentType);
    expect(expectRefused(await tokenWithAssertion(issuer, client.assertion(), {}, { timeoutMs: 20_000 }), log)).toBe('keys_unavailable');
  });

  test('setClientJwks moves a client from an inline set to a jwks_uri and back', async () => {
    const inlineKey = clientKey('RS256');
    const seeded = await seedKeyClient(issuer.auth, { jwks: jwksOf(inlineKey) });
    const inline = new AssertingClient(seeded.clientId, inlineKey, issuer.issuer);
    expect((await tokenWithAssertion(issuer, inline.assertion())).status).toBe(200);
    const remoteKey = clientKey('ES256');
    const server = await startJwksServer(jwksOf(remoteKey));
    servers.push(server);
    const moved = await issuer.auth.registry.setClientJwks(seeded.clientId, { jwksUri: server.url });
    expect(moved).toMatchObject({ jwks: null, jwksUri: server.url });
    const remote = new AssertingClient(seeded.clientId, remoteKey, issuer.issuer);
    expect((await tokenWithAssertion(issuer, remote.assertion())).status).toBe(200);
    expect((await tokenWithAssertion(issuer, inline.assertion())).status).toBe(401);
    const back = await issuer.auth.registry.setClientJwks(seeded.clientId, { jwks: jwksOf(inlineKey) });
    expect(back).toMatchObject({ jwksUri: null });
    expect((await tokenWithAssertion(issuer, inline.assertion())).status).toBe(200);
    expect((await tokenWithAssertion(issuer, remote.assertion())).status).toBe(401);
  });
});

describe('private_key_jwt with a plain-http jwks_uri, allowLoopbackHttpJwksUri off (the default)', () => {
  test('the set is never fetched: 401 invalid_client', async () => {
    const issuer = await startIssuer({ throttle: false });
    const key = clientKey('ES256');
    const server = await startJwksServer(jwksOf(key));
    try {
      const log = new EventLog(issuer.auth);
      // Registration takes a loopback http URL; fetching it is the issuer's option.
      const seeded = await seedKeyClient(issuer.auth, { jwksUri: server.url });
      const client = new AssertingClient(seeded.clientId, key, issuer.issuer);
      const detail = expectRefused(await tokenWithAssertion(issuer, client.assertion(), {}, { timeoutMs: 20_000 }), log);
      expect(detail).toBe('keys_unavailable');
      expect(server.requests).toBe(0);
      log.stop();
      expect(issuer.serverErrors).toEqual([]);
    } finally {
      await server.stop();
      await issuer.close();
    }
  });
});

describe("the registry's checks on a client's keys", () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer();
  });
  afterAll(() => issuer.close());

  /** The RegistryError of `attempt` (fails the test if it succeeds or throws something else). */
  async function refusal(attempt: Promise<unknown>): Promise<RegistryError> {
    const err = await attempt.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RegistryError);
    return err as RegistryError;
  }
  const create = (keys: { jwks: unknown } | { jwksUri: string }) => issuer.auth.registry.createClient({ name: 'keys', authMethod: 'private_key_jwt', ...keys });

  test('a jwks_uri must be https, or http on a loopback host', async () => {
    for (const jwksUri of ['http://example.com/jwks', 'http://192.0.2.10/jwks', 'ftp://127.0.0.1/jwks', 'file:///etc/jwks.json', '/jwks', 'not a url']) {
      const err = await refusal(create({ jwksUri }));
      expect({ jwksUri, kind: err.kind }).toEqual({ jwksUri, kind: 'invalid' });
    }
    for (const jwksUri of ['https://client.example/.well-known/jwks.json', 'http://127.0.0.1:8080/jwks']) {
      const created = await create({ jwksUri });
      expect({ jwksUri, stored: created.client.jwksUri, secret: created.clientSecret }).toEqual({ jwksUri, stored: jwksUri, secret: null });
    }
    const client = (await create({ jwksUri: 'https://client.example/jwks' })).client;
    expect((await refusal(issuer.auth.registry.setClientJwks(client.clientId, { jwksUri: 'http://example.com/jwks' }))).kind).toBe('invalid');
    expect((await issuer.auth.registry.getClient(client.clientId))?.jwksUri).toBe('https://client.example/jwks');
  });

  test('RFC 7517 §4: a JWK Set holding a private key (d) is refused, the message naming its kid', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const good = clientKey(alg);
      const leaked = clientKey(alg, `leaked-${alg}`);
      const err = await refusal(create({ jwks: { keys: [good.publicJwk, leaked.privateJwk] } }));
      expect({ alg, kind: err.kind }).toEqual({ alg, kind: 'invalid' });
      expect(err.message).toContain(`leaked-${alg}`);
      // Nothing was stored, and setClientJwks refuses it too.
      const client = (await create({ jwks: jwksOf(good) })).client;
      const again = await refusal(issuer.auth.registry.setClientJwks(client.clientId, { jwks: { keys: [leaked.privateJwk] } }));
      expect(again.kind).toBe('invalid');
      expect(again.message).toContain(`leaked-${alg}`);
      expect((await issuer.auth.registry.getClient(client.clientId))?.jwks?.keys.map((k) => k.kid)).toEqual([good.kid]);
    }
  });

  test('a symmetric key (kty oct) or a document that is no JWK Set is refused', async () => {
    const secretKey = { kty: 'oct', kid: 'shared-1', k: randomBytes(32).toString('base64url'), alg: 'HS256' };
    expect((await refusal(create({ jwks: { keys: [secretKey] } }))).kind).toBe('invalid');
    for (const jwks of [{}, { keys: 'none' }, [clientKey('ES256').publicJwk], 'jwks', null]) {
      const err = await refusal(create({ jwks }));
      expect({ jwks, kind: err.kind }).toEqual({ jwks, kind: 'invalid' });
    }
  });
});
