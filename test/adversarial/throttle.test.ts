/**
 * Credential guessing (RFC 6749 §10.10, RFC 9700 §4.16) against the failure throttle, over real HTTP
 * from several source addresses: all of 127.0.0.0/8 is loopback, so 127.0.0.2, 127.0.0.3, ... are
 * distinct callers of an issuer listening on 127.0.0.1. Client ids are not secret, so failures refuse
 * only the address that made them (per client id and address, and per address); for the client id
 * alone they only slow failed attempts down; a right secret is never refused for someone else's
 * failures, and once verified recently it passes from anywhere.
 */
import { join } from 'node:path';
import request from 'supertest';
import { remoteGuard } from '../../lib';
import { API_AUDIENCE } from '../support/constants';
import { sourceAddresses, type SourceAddress } from '../support/http';
import {
  callApi,
  expectInvalidClient,
  expectThrottled,
  expectTokenError,
  introspect,
  isThrottled,
  issueToken,
  tokenFrom,
  tokenRequest,
} from '../support/oauth';
import { seedClient, type SeededClient } from '../support/clients';
import { createTestServer, startApi, startIssuer, type IssuerOptions, type TestIssuer, type TestServer } from '../support/servers';
import { memoryTempDir } from '../support/temp';
import { clientFailures, throttleRows } from '../support/throttle';
import { settleOrder, sleep, timed } from '../support/time';

/** The lock window of most tests, in seconds: long enough that no lock ends within a test. */
const WINDOW = 60;

let guesses = 0;
/** A wrong secret, different every time. */
const guess = (): string => `wrong-guess-${guesses++}-xxxxxxxxxxxxxxxx`;

/** `count` wrong secrets for `clientId` from `from`, one after another: each answer, and how long it took. */
async function flood(issuer: TestIssuer, from: SourceAddress, clientId: string, count: number) {
  const answers = [];
  for (let i = 0; i < count; i++) answers.push(await timed(() => tokenFrom(from, issuer, { clientId, clientSecret: guess() })));
  return answers;
}

/** A lower bound on a held-back answer: a timer never fires early (a few ms of rounding allowed). */
const heldAtLeast = (ms: number): number => ms - 5;

describe('a flood of wrong secrets for one client from one address (6 per client id and address; its failures slowed past 3)', () => {
  const STEP_MS = 150;
  const MAX_MS = 300;
  const options: IssuerOptions = {
    throttle: {
      maxFailuresPerClientAndAddress: 6,
      maxFailuresPerAddress: 1000,
      slowdownAfter: 3,
      slowdownStepMs: STEP_MS,
      maxSlowdownMs: MAX_MS,
      windowSeconds: WINDOW,
      lockedDelayMs: 0,
    },
  };
  const net = sourceAddresses(2, 3);
  const [A, B, D] = net.at; // A attacks; B is where the real client runs; D is anyone else
  let issuer: TestIssuer;
  /** Never verified at this instance before the attack. */
  let victim: SeededClient;
  /** Verified from B just before the attack: its secret is cached. */
  let cached: SeededClient;
  let victimFlood: Awaited<ReturnType<typeof flood>>;
  beforeAll(async () => {
    issuer = await startIssuer(options);
    victim = await seedClient(issuer.auth);
    cached = await seedClient(issuer.auth);
    expect((await tokenFrom(B, issuer, cached)).status).toBe(200);
    victimFlood = await flood(issuer, A, victim.clientId, 8);
    await flood(issuer, A, cached.clientId, 8);
  });
  afterAll(async () => {
    net.close();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('RFC 6749 §5.2: A is slowed once the client id has 3 failures, then refused: 401 invalid_client, a Basic challenge and Retry-After', () => {
    for (const { value } of victimFlood.slice(0, 6)) expectInvalidClient(value);
    // Failures 4, 5 and 6 of the client id are held back 150, 300 and 300 ms (the bound).
    expect(victimFlood[3].ms).toBeGreaterThanOrEqual(heldAtLeast(STEP_MS));
    expect(victimFlood[4].ms).toBeGreaterThanOrEqual(heldAtLeast(MAX_MS));
    expect(victimFlood[5].ms).toBeGreaterThanOrEqual(heldAtLeast(MAX_MS));
    for (const { value } of victimFlood.slice(6)) expectThrottled(value, WINDOW);
  });

  test('while the secret was never verified here, A is refused even with it, by either method', async () => {
    const other = await seedClient(issuer.auth);
    await flood(issuer, A, other.clientId, 6);
    expectThrottled(await tokenFrom(A, issuer, other), WINDOW);
    expectThrottled(await tokenFrom(A, issuer, { ...other, method: 'post' }), WINDOW);
  });

  test('an unknown client id is refused the same way (the answers do not tell that an id exists)', async () => {
    const unknown = await flood(issuer, A, 'no-such-client-0123456789', 8);
    expect(unknown.map(({ value }) => isThrottled(value))).toEqual(victimFlood.map(({ value }) => isThrottled(value)));
    for (const { value } of unknown.slice(0, 6)) expectInvalidClient(value);
    expect(unknown[5].ms).toBeGreaterThanOrEqual(heldAtLeast(MAX_MS));
  });

  test('not yet verified: the right secret from B gets a token at once, ahead of a slowed failure from D sent at the same moment', async () => {
    const slowed = timed(() => tokenFrom(D, issuer, { clientId: victim.clientId, clientSecret: guess() }));
    const right = tokenFrom(B, issuer, victim);
    expect(await settleOrder({ right, slowed })).toEqual(['right', 'slowed']);
    expect((await right).status).toBe(200);
    // The slowdown is the client id's: D's failure waits although D itself failed only once.
    expectInvalidClient((await slowed).value);
    expect((await slowed).ms).toBeGreaterThanOrEqual(heldAtLeast(MAX_MS));
  });

  test("once verified (here, from B), the right secret works from A too; A stays refused for guesses, and for the secret sent by a method not the client's own", async () => {
    expect((await tokenFrom(B, issuer, victim)).status).toBe(200);
    expect((await tokenFrom(A, issuer, victim)).status).toBe(200);
    // RFC 6749 §2.3: a client_secret_basic client's secret in the form is no credential of it.
    expectThrottled(await tokenFrom(A, issuer, { ...victim, method: 'post' }), WINDOW);
    expectThrottled(await tokenFrom(A, issuer, { clientId: victim.clientId, clientSecret: guess() }), WINDOW);
  });

  test('verified before the attack: the right secret from B is served at once, ahead of a slowed failure; and from A as well', async () => {
    const slowed = tokenFrom(D, issuer, { clientId: cached.clientId, clientSecret: guess() });
    const right = tokenFrom(B, issuer, cached);
    expect(await settleOrder({ right, slowed })).toEqual(['right', 'slowed']);
    expect((await right).status).toBe(200);
    expectInvalidClient(await slowed);
    expect((await tokenFrom(A, issuer, cached)).status).toBe(200);
  });

  test('a fresh instance on the same registry shares the counters, not the cache: A is refused until the secret is verified there, B is served at once', async () => {
    const fresh = await startIssuer({ ...options, db: issuer.dbPath });
    try {
      const attacked = await seedClient(fresh.auth);
      await flood(issuer, A, attacked.clientId, 6); // at the first instance
      expectThrottled(await tokenFrom(A, fresh, attacked), WINDOW);
      expect((await tokenFrom(B, fresh, attacked)).status).toBe(200);
      expect((await tokenFrom(A, fresh, attacked)).status).toBe(200);
      expect(fresh.serverErrors).toEqual([]);
    } finally {
      await fresh.close();
    }
  });
});

describe('client_id alone, no secret (no bcrypt): refused for the address, free for the client', () => {
  const net = sourceAddresses(2, 3);
  const [A, B, D] = net.at;
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer({
      throttle: {
        maxFailuresPerClientAndAddress: 5,
        maxFailuresPerAddress: 1000,
        slowdownAfter: 2,
        slowdownStepMs: 500,
        maxSlowdownMs: 500,
        windowSeconds: WINDOW,
        lockedDelayMs: 0,
      },
    });
  });
  afterAll(async () => {
    net.close();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test("a flood of bare client_ids from A gets A refused; the client id's own counter is not touched, so B is neither slowed nor refused", async () => {
    const c = await seedClient(issuer.auth);
    const bare = [];
    for (let i = 0; i < 12; i++) bare.push(await tokenFrom(A, issuer, null, { client_id: c.clientId }));
    for (const res of bare.slice(0, 5)) expectInvalidClient(res);
    for (const res of bare.slice(5)) expectThrottled(res, WINDOW);
    expect(clientFailures(issuer.dbPath, c.clientId)).toBe(0);

    // Another client's id past its slowdown threshold (2 failures from D): its next failure waits 500 ms.
    const other = await seedClient(issuer.auth);
    await flood(issuer, D, other.clientId, 2);
    const slowed = tokenFrom(D, issuer, { clientId: other.clientId, clientSecret: guess() });
    // C's own failure from B is not held back: it answers first.
    const wrongFromB = tokenFrom(B, issuer, { clientId: c.clientId, clientSecret: guess() });
    expect(await settleOrder({ wrongFromB, slowed })).toEqual(['wrongFromB', 'slowed']);
    expectInvalidClient(await wrongFromB);
    expectInvalidClient(await slowed);
    expect((await tokenFrom(B, issuer, c)).status).toBe(200);
  });
});

describe('per-address lockout (4 failures per address per 2 s window)', () => {
  const SHORT = 2;
  const net = sourceAddresses(2, 4);
  const [A, B, E, F] = net.at;
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: { maxFailuresPerClientAndAddress: 100, maxFailuresPerAddress: 4, windowSeconds: SHORT, lockedDelayMs: 0 } });
  });
  afterAll(async () => {
    net.close();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('failures spread over client ids refuse the address, even for a valid client; a forged X-Forwarded-For changes nothing; other addresses are served; it reopens after the window', async () => {
    const good = await seedClient(issuer.auth);
    const later = await seedClient(issuer.auth);
    for (let i = 0; i < 4; i++) expectInvalidClient(await tokenFrom(A, issuer, { clientId: `spray-${i}-unknown-id`, clientSecret: guess() }));
    const lockedAt = Date.now();
    expectThrottled(await tokenFrom(A, issuer, { clientId: 'spray-5-unknown-id', clientSecret: guess() }), SHORT);
    expectThrottled(await tokenFrom(A, issuer, good), SHORT);
    // Without `trust proxy` X-Forwarded-For is not the caller's address: it gives no fresh one.
    expectThrottled(await tokenFrom(A, issuer, { clientId: 'spray-6', clientSecret: guess() }, {}, { 'X-Forwarded-For': '203.0.113.7' }), SHORT);
    expect((await tokenFrom(B, issuer, good)).status).toBe(200);

    await sleep(lockedAt + SHORT * 1000 + 150 - Date.now());
    expect((await tokenFrom(A, issuer, later)).status).toBe(200);
  });

  test('malformed requests cost nothing and do not count: 20 bad Basic headers, then a valid client is served from that address', async () => {
    const good = await seedClient(issuer.auth);
    for (let i = 0; i < 20; i++) expect((await tokenFrom(E, issuer, null, {}, { Authorization: 'Basic !!!' })).status).toBe(400);
    expect((await tokenFrom(E, issuer, good)).status).toBe(200);
  });

  test('requests with no credentials at all are 401 but are not failed guesses either', async () => {
    const good = await seedClient(issuer.auth);
    for (let i = 0; i < 6; i++) expectInvalidClient(await tokenFrom(F, issuer, null));
    expect((await tokenFrom(F, issuer, good)).status).toBe(200);
  });
});

describe('one address guessing at one client (5 per client id and address; bcrypt cost 7, one worker)', () => {
  const net = sourceAddresses(2, 2);
  const [A, B] = net.at;
  let issuer: TestIssuer;
  beforeAll(async () => {
    // Room in the bcrypt queue for all 30 from one address: the throttle, not the queue, is under test.
    issuer = await startIssuer({
      bcryptCost: 7,
      bcryptQueuePerAddress: 64,
      throttle: { maxFailuresPerClientAndAddress: 5, maxFailuresPerAddress: 1000, windowSeconds: 30, lockedDelayMs: 0 },
    });
  });
  afterAll(async () => {
    net.close();
    await issuer.close();
  });

  test('30 guesses sent at once reveal at most 5 wrong answers; the rest, the right one included, are refused: concurrency does not bypass the lock', async () => {
    const c = await seedClient(issuer.auth);
    const secrets = Array.from({ length: 30 }, (_, i) => (i === 29 ? c.clientSecret : guess()));
    const answers = await Promise.all(secrets.map((clientSecret) => tokenFrom(A, issuer, { clientId: c.clientId, clientSecret })));
    expect(answers.filter((r) => r.status === 200)).toEqual([]); // the right guess came too late: no token
    const plain = answers.filter((r) => !isThrottled(r));
    expect(plain.length).toBeLessThanOrEqual(5);
    for (const r of plain) expectInvalidClient(r);
    for (const r of answers.filter((x) => isThrottled(x))) expectThrottled(r, 30);
    expect(issuer.serverErrors).toEqual([]);
  });

  test("a right secret checked by bcrypt clears the address's failures for the client: 4 failures, a success, 4 failures are all plain 401", async () => {
    const c = await seedClient(issuer.auth);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 4; i++) expectInvalidClient(await tokenFrom(B, issuer, { clientId: c.clientId, clientSecret: guess() }));
      // The first success is checked by bcrypt (and clears); the second is recognised from the cache.
      expect((await tokenFrom(B, issuer, c)).status).toBe(200);
    }
  });
});

describe("a resource server's own client id under attack from other addresses", () => {
  const net = sourceAddresses(2, 3);
  let issuer: TestIssuer;
  let rs: SeededClient;
  let reader: SeededClient;
  beforeAll(async () => {
    issuer = await startIssuer({
      throttle: {
        maxFailuresPerClientAndAddress: 5,
        maxFailuresPerAddress: 20,
        slowdownAfter: 5,
        slowdownStepMs: 20,
        maxSlowdownMs: 100,
        windowSeconds: WINDOW,
        lockedDelayMs: 0,
      },
    });
    rs = await seedClient(issuer.auth, ['ccgate:introspect']);
    reader = await seedClient(issuer.auth, ['reports:read']);
  });
  afterAll(async () => {
    net.close();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  /** Wrong secrets and bare client_ids for the resource server's id, from every attacking address at once, until each is refused. */
  const attack = () =>
    Promise.all(
      net.at.map(async (from) => {
        const answers = [];
        for (let i = 0; i < 8; i++) {
          answers.push(
            await (i % 2 === 0
              ? tokenFrom(from, issuer, { clientId: rs.clientId, clientSecret: guess() })
              : tokenFrom(from, issuer, null, { client_id: rs.clientId })),
          );
        }
        return answers;
      }),
    );

  test('RFC 7662 §2.1: its introspection requests, and a remoteGuard in introspection mode, keep working during and after the attack', async () => {
    // The attack comes first: the resource server has never authenticated at this instance.
    for (const answers of await attack()) expectThrottled(answers[answers.length - 1], WINDOW);
    const token = await issueToken(issuer, reader);
    const direct = await introspect(issuer, rs, { token });
    expect(direct.status).toBe(200);
    expect(direct.json()).toMatchObject({ active: true, client_id: reader.clientId });

    const api = await startApi(
      remoteGuard({
        issuer: issuer.issuer,
        audience: API_AUDIENCE,
        mode: 'introspection',
        clientId: rs.clientId,
        clientSecret: rs.clientSecret,
        introspectionCacheSeconds: 0,
      }),
    );
    try {
      const calls = async () => {
        const statuses = [];
        for (let i = 0; i < 10; i++) statuses.push((await callApi(`${api.origin}/reports`, token)).status);
        return statuses;
      };
      const [during, waves] = await Promise.all([calls(), attack()]);
      expect(during).toEqual(Array(10).fill(200));
      for (const answers of waves) for (const res of answers) expectThrottled(res, WINDOW);
      expect((await callApi(`${api.origin}/reports`, token)).status).toBe(200);
    } finally {
      await api.stop();
    }
  });
});

describe('an operator rotates a secret without overlap; a stale instance keeps sending the old one', () => {
  const net = sourceAddresses(2, 3);
  const [X, Y, Z] = net.at; // X: the stale instance; Y: an updated one; Z: one started after the rotation
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer({ throttle: { maxFailuresPerClientAndAddress: 5, maxFailuresPerAddress: 10, windowSeconds: WINDOW, lockedDelayMs: 0 } });
  });
  afterAll(async () => {
    net.close();
    await issuer.close();
  });
  afterEach(() => expect(issuer.serverErrors).toEqual([]));

  test('the stale instance is refused at its own address, for that client only; the new secret works at once everywhere else, and at X once redeployed', async () => {
    const c = await seedClient(issuer.auth);
    const neighbour = await seedClient(issuer.auth); // another service on X's host
    for (const at of [X, Y]) expect((await tokenFrom(at, issuer, c)).status).toBe(200);
    const { clientSecret } = await issuer.auth.rotateClientSecret(c.clientId);
    const renewed = { clientId: c.clientId, clientSecret: clientSecret as string };

    const stale = [];
    for (let i = 0; i < 15; i++) {
      stale.push(await tokenFrom(X, issuer, c));
      if (i % 5 === 4) expect((await tokenFrom(Y, issuer, renewed)).status).toBe(200);
    }
    for (const res of stale.slice(0, 5)) expectInvalidClient(res);
    for (const res of stale.slice(5)) expectThrottled(res, WINDOW);
    expect((await tokenFrom(Z, issuer, renewed)).status).toBe(200);
    expect((await tokenFrom(X, issuer, neighbour)).status).toBe(200);
    expect((await tokenFrom(X, issuer, renewed)).status).toBe(200);
  });
});

describe('throttle keys are bounded in size whatever client id is sent', () => {
  const net = sourceAddresses(2, 4);
  // Each failure commits two or three counters: in memory, the test does not wait on the disk.
  const memory = memoryTempDir('ccgate-throttle-');
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer({
      db: join(memory.dir, 'ccgate.db'),
      throttle: { maxFailuresPerClientAndAddress: 1e6, maxFailuresPerAddress: 1e6, lockedDelayMs: 0 },
    });
  });
  afterAll(async () => {
    net.close();
    await issuer.close();
    memory.cleanup();
  });

  test('200 failures with distinct 8,000-character client ids (bare and with a secret, from 4 addresses): every row key is short', async () => {
    const PER_SOURCE = 50;
    // client_secret_post: an 8,000-character id fits the 8 KiB body (Basic credentials stop at 1,024).
    await Promise.all(
      net.at.map(async (from, s) => {
        for (let i = 0; i < PER_SOURCE; i++) {
          const clientId = `${s}-${i}-`.padEnd(8000, 'x');
          const res = await tokenFrom(from, issuer, null, i % 2 === 0 ? { client_id: clientId } : { client_id: clientId, client_secret: guess() });
          expectInvalidClient(res);
        }
      }),
    );
    const rows = throttleRows(join(memory.dir, 'ccgate.db'));
    // Every failure was counted (a row per client id and address, per client id with a secret, per address)...
    expect(rows.length).toBe(4 * PER_SOURCE + 4 * (PER_SOURCE / 2) + 4);
    // ...under a key of at most a prefix, a hash and an address: stored as sent, they would hold 2.4 MB.
    expect(Math.max(...rows.map((r) => r.key.length))).toBeLessThanOrEqual(128);
    expect(rows.reduce((sum, r) => sum + r.key.length, 0)).toBeLessThan(rows.length * 128);
    expect(issuer.serverErrors).toEqual([]);
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
    const flooded = Array.from({ length: 20 }, (_, i) => tokenRequest(server.app, `flood-${i}-unknown`, 'flood-secret-xxxxxxxx'));
    const legit = Array.from({ length: 5 }, () => tokenRequest(server.app, clientId, clientSecret));
    const [floodAnswers, legitAnswers] = await Promise.all([Promise.all(flooded), Promise.all(legit)]);
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

describe('tarpit: a refused caller waits for its answer (lockedDelayMs)', () => {
  let server: TestServer;
  let clientId: string;
  beforeAll(async () => {
    server = createTestServer({ throttle: { maxFailuresPerClientAndAddress: 2, maxFailuresPerAddress: 1000, windowSeconds: 60, lockedDelayMs: 400 } });
    ({ clientId } = await seedClient(server.auth, ['reports:read']));
  });
  afterAll(() => server.close());

  test('failures answer at once; once refused, each answer is held for lockedDelayMs, so a flood sends few requests', async () => {
    for (let i = 0; i < 2; i++) expectInvalidClient(await tokenRequest(server.app, clientId, `wrong-secret-${i}-xxxxxxxx`));
    const started = Date.now();
    expectThrottled(await tokenRequest(server.app, clientId, 'wrong-secret-again-xxxxxxx'), 60);
    // A lower bound only: setTimeout never fires early.
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });

  test('a bare client_id from a refused address waits as long', async () => {
    const started = Date.now();
    expectThrottled(await request(server.app).post('/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: clientId }), 60);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
  });
});
