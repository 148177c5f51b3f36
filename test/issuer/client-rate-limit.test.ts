/**
 * Per-client limits of the introspection and revocation endpoints: one client cannot write
 * revocation rows, or make introspection calls, without bound (429 with Retry-After, RFC 6585 §4).
 */
import request from 'supertest';
import { basic, expectTokenError, getToken } from '../support/oauth';
import { seedClient, type SeededClient } from '../support/clients';
import { sleep } from '../support/time';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
let a: SeededClient;
let b: SeededClient;
beforeAll(async () => {
  server = createTestServer({ clientRateLimits: { revocationsPerMinute: 3, introspectionsPerSecond: 2 } });
  a = await seedClient(server.auth, ['reports:read']);
  b = await seedClient(server.auth, ['reports:read']);
});
afterAll(() => server.close());

const post = (path: string, client: SeededClient, token: string) =>
  request(server.app).post(path).set('Authorization', basic(client.clientId, client.clientSecret)).type('form').send({ token });

test('revocation: past revocationsPerMinute a client gets 429 temporarily_unavailable with Retry-After; another client is not affected', async () => {
  for (let i = 0; i < 3; i++) expect((await post('/oauth/revoke', a, `garbage-${i}`)).status).toBe(200);
  const over = await post('/oauth/revoke', a, await getToken(server, a.clientId, a.clientSecret));
  expectTokenError(over, 429, 'temporarily_unavailable');
  expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(Number(over.headers['retry-after'])).toBeLessThanOrEqual(60);
  expect((await post('/oauth/revoke', b, 'garbage')).status).toBe(200);
});

test('introspection: past introspectionsPerSecond a client gets 429; it may call again a second later', async () => {
  const token = await getToken(server, b.clientId, b.clientSecret);
  const answers = await Promise.all(Array.from({ length: 4 }, () => post('/oauth/introspect', b, token)));
  expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 429, 429]);
  expectTokenError(
    answers.find((r) => r.status === 429)!,
    429,
    'temporarily_unavailable',
  );
  await sleep(1100);
  expect((await post('/oauth/introspect', b, token)).body).toMatchObject({ active: true });
});

test('clientRateLimits: false disables both limits', async () => {
  const open = createTestServer({ clientRateLimits: false });
  try {
    const c = await seedClient(open.auth, ['reports:read']);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(open.app)
          .post('/oauth/revoke')
          .set('Authorization', basic(c.clientId, c.clientSecret))
          .type('form')
          .send({ token: `g-${i}` }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(Array.from({ length: 10 }, () => 200));
  } finally {
    await open.close();
  }
});
