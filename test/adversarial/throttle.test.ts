/**
 * Credential guessing (RFC 6749 §10.10, RFC 9700 §4.16): the failed-authentication lockout per
 * client_id and per address, and its edges (correct secret while locked, unknown ids, spoofed
 * X-Forwarded-For, parallel guesses).
 */
import request from 'supertest';
import { sleep } from '../support/time';
import { expectInvalidClient, expectThrottled, expectTokenError, tokenRequest } from '../support/oauth';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

const WINDOW = 2;

describe('brute force against one client (5 failures per 2 s window)', () => {
  let server: TestServer;
  let clientId: string;
  let clientSecret: string;
  beforeAll(async () => {
    server = createTestServer({ throttle: { maxFailuresPerClient: 5, maxFailuresPerAddress: 1000, windowSeconds: WINDOW, lockedDelayMs: 0 } });
    ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read']));
  });
  afterAll(() => server.close());

  test('5 wrong secrets are 401; then 429 with Retry-After, the correct secret refused too; it works once the window passes', async () => {
    for (let i = 0; i < 5; i++) expectInvalidClient(await tokenRequest(server.app, clientId, `wrong-secret-${i}-xxxxxxxx`));
    const lockedAt = Date.now();

    expectThrottled(await tokenRequest(server.app, clientId, 'wrong-secret-again-xxxxxxx'), WINDOW);
    // The correct secret does not unlock it, by either method.
    expectThrottled(await tokenRequest(server.app, clientId, clientSecret), WINDOW);
    const post = await request(server.app)
      .post('/oauth/token')
      .type('form')
      .send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    expectThrottled(post, WINDOW);

    await sleep(lockedAt + WINDOW * 1000 + 150 - Date.now());
    const ok = await tokenRequest(server.app, clientId, clientSecret);
    expect(ok.status).toBe(200);
    expect(ok.body.token_type).toBe('Bearer');
  });

  test('a success clears the client counter: 4 failures, a success, 4 more failures are all 401, never 429', async () => {
    for (let i = 0; i < 4; i++) expectInvalidClient(await tokenRequest(server.app, clientId, `nope-nope-nope-${i}`));
    expect((await tokenRequest(server.app, clientId, clientSecret)).status).toBe(200);
    for (let i = 0; i < 4; i++) expectInvalidClient(await tokenRequest(server.app, clientId, `nope-nope-nope-${i}`));
    expect((await tokenRequest(server.app, clientId, clientSecret)).status).toBe(200);
  });

  test('an unknown client id is locked the same way (a 429 does not reveal that an id exists)', async () => {
    const unknown = 'no-such-client-0123456789';
    for (let i = 0; i < 5; i++) expectInvalidClient(await tokenRequest(server.app, unknown, `guess-guess-${i}`));
    expectThrottled(await tokenRequest(server.app, unknown, 'guess-guess-x'), WINDOW);
  });

  test('other clients are not locked by one client being attacked', async () => {
    const other = await seedClient(server.auth, ['reports:read']);
    for (let i = 0; i < 6; i++) await tokenRequest(server.app, clientId, `wrong-${i}-wrong-wrong`);
    expectThrottled(await tokenRequest(server.app, clientId, clientSecret), WINDOW);
    expect((await tokenRequest(server.app, other.clientId, other.clientSecret)).status).toBe(200);
  });
});

describe('parallel guesses (bcrypt cost 8, one worker): the lockout is not bypassed by concurrency', () => {
  let server: TestServer;
  let clientId: string;
  let clientSecret: string;
  beforeAll(async () => {
    server = createTestServer({ bcryptCost: 8, throttle: { maxFailuresPerClient: 5, maxFailuresPerAddress: 1000, windowSeconds: 30, lockedDelayMs: 0 } });
    ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read']));
  });
  afterAll(() => server.close());

  test('30 guesses sent at once reveal at most 5 wrong answers; the rest (the right one included) are 429', async () => {
    const guesses = Array.from({ length: 30 }, (_, i) => (i === 29 ? clientSecret : `parallel-guess-${i}-xxxxxx`));
    const answers = await Promise.all(guesses.map((g) => tokenRequest(server.app, clientId, g)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 200)).toEqual([]); // the right guess came too late: no token
    for (const r of answers) {
      if (r.status === 401) expectInvalidClient(r);
      else expectThrottled(r, 30);
    }
  });
});

describe('per-address lockout (4 failures per address per 2 s window)', () => {
  let server: TestServer;
  beforeAll(() => {
    server = createTestServer({ throttle: { maxFailuresPerClient: 100, maxFailuresPerAddress: 4, windowSeconds: WINDOW, lockedDelayMs: 0 } });
  });
  afterAll(() => server.close());

  test('failures spread over different client ids lock the address, even for a valid client; it reopens after the window', async () => {
    const good = await seedClient(server.auth, ['reports:read']);
    for (let i = 0; i < 4; i++) expectInvalidClient(await tokenRequest(server.app, `spray-${i}-unknown-id`, 'spray-secret-xxxxxxxx'));
    const lockedAt = Date.now();
    expectThrottled(await tokenRequest(server.app, 'spray-5-unknown-id', 'spray-secret-xxxxxxxx'), WINDOW);
    expectThrottled(await tokenRequest(server.app, good.clientId, good.clientSecret), WINDOW);
    // A forged X-Forwarded-For does not give a new address (trust proxy is off).
    expectThrottled(await tokenRequest(server.app, 'spray-6', 'spray-secret-xxxxxxxx').set('X-Forwarded-For', '203.0.113.7'), WINDOW);

    await sleep(lockedAt + WINDOW * 1000 + 150 - Date.now());
    expect((await tokenRequest(server.app, good.clientId, good.clientSecret)).status).toBe(200);
  });

  test('malformed requests cost nothing and do not count: 20 bad Basic headers, then a valid client is served', async () => {
    const good = await seedClient(server.auth, ['reports:read']);
    for (let i = 0; i < 20; i++) {
      const res = await request(server.app).post('/oauth/token').set('Authorization', 'Basic !!!').type('form').send('grant_type=client_credentials');
      expect(res.status).toBe(400);
    }
    expect((await tokenRequest(server.app, good.clientId, good.clientSecret)).status).toBe(200);
  });

  test('requests with no credentials at all are 401 but are not failed guesses either', async () => {
    const good = await seedClient(server.auth, ['reports:read']);
    for (let i = 0; i < 6; i++) {
      expectInvalidClient(await request(server.app).post('/oauth/token').type('form').send('grant_type=client_credentials'));
    }
    expect((await tokenRequest(server.app, good.clientId, good.clientSecret)).status).toBe(200);
  });
});

describe('bcrypt queue flood (cost 10, one worker, queue of 2)', () => {
  let server: TestServer;
  let clientId: string;
  let clientSecret: string;
  beforeAll(async () => {
    server = createTestServer({ bcryptCost: 10, bcryptQueue: 2 });
    ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read']));
  });
  afterAll(() => server.close());

  test('a flood of unknown ids gets 503 temporarily_unavailable with Retry-After; a client whose secret is remembered is still served', async () => {
    expect((await tokenRequest(server.app, clientId, clientSecret)).status).toBe(200); // remembered from now on
    const flood = Array.from({ length: 20 }, (_, i) => tokenRequest(server.app, `flood-${i}-unknown`, 'flood-secret-xxxxxxxx'));
    const legit = Array.from({ length: 5 }, () => tokenRequest(server.app, clientId, clientSecret));
    const [floodAnswers, legitAnswers] = await Promise.all([Promise.all(flood), Promise.all(legit)]);
    expect(legitAnswers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const busy = floodAnswers.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThan(0);
    for (const r of busy) {
      expectTokenError(r, 503, 'temporarily_unavailable');
      expect(r.headers['retry-after']).toBe('1');
    }
    for (const r of floodAnswers.filter((x) => x.status !== 503)) expectInvalidClient(r);
  });
});

describe('tarpit: a locked caller waits for its 429 (lockedDelayMs)', () => {
  let server: TestServer;
  let clientId: string;
  beforeAll(async () => {
    server = createTestServer({ throttle: { maxFailuresPerClient: 2, maxFailuresPerAddress: 1000, windowSeconds: 60, lockedDelayMs: 400 } });
    ({ clientId } = await seedClient(server.auth, ['reports:read']));
  });
  afterAll(() => server.close());

  test('failures answer at once; once locked, each 429 is held for lockedDelayMs, so a flood sends few requests', async () => {
    for (let i = 0; i < 2; i++) expectInvalidClient(await tokenRequest(server.app, clientId, `wrong-secret-${i}-xxxxxxxx`));
    const started = Date.now();
    expectThrottled(await tokenRequest(server.app, clientId, 'wrong-secret-again-xxxxxxx'), 60);
    // A lower bound only: setTimeout never fires early.
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });
});
