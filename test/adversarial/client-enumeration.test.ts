/**
 * Client enumeration (RFC 6749 §10.10 / §5.2): an unknown client id and a wrong secret must be
 * indistinguishable: same status, body and headers, and the same bcrypt work (timing).
 */
import { performance } from 'node:perf_hooks';
import request from 'supertest';
import { openRegistry } from '../../lib';
import { median } from '../support/time';
import { expectInvalidClient, tokenRequest } from '../support/oauth';
import { seedClient } from '../support/clients';
import { bcryptCostOf, bcryptRuns, watchBcryptPools } from '../support/hasher';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
let clientId: string;
let clientSecret: string;

beforeAll(async () => {
  // bcrypt cost 8 (~15-20 ms a compare): large next to HTTP overhead, small enough for many samples.
  server = createTestServer({ bcryptCost: 8 });
  ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read']));
});
afterAll(() => server.close());

const UNKNOWN_ID = 'AAAAAAAAAAAAAAAAAAAAAA'; // shaped like a real id (22 base64url characters)
const WRONG = 'wrong-secret-of-the-right-length-0123456789a';

/** The answer without what legitimately differs per request. */
function comparable(res: request.Response) {
  const headers = { ...res.headers };
  delete headers.date;
  delete headers['x-request-id'];
  return { status: res.status, body: res.body, headers };
}

test('unknown client vs wrong secret (client_secret_basic): identical status, body and headers', async () => {
  const unknown = await tokenRequest(server.app, UNKNOWN_ID, WRONG);
  const wrong = await tokenRequest(server.app, clientId, WRONG);
  expectInvalidClient(unknown);
  expectInvalidClient(wrong);
  expect(comparable(unknown)).toEqual(comparable(wrong));
  expect((await tokenRequest(server.app, clientId, clientSecret)).status).toBe(200); // the client is real
});

test('unknown client vs wrong secret (client_secret_post): identical status, body and headers', async () => {
  const post = (id: string) =>
    request(server.app).post('/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: id, client_secret: WRONG });
  const unknown = await post(UNKNOWN_ID);
  const wrong = await post(clientId);
  expectInvalidClient(unknown);
  expect(comparable(unknown)).toEqual(comparable(wrong));
});

test('unknown client, wrong secret and disabled client (right secret) answer the same', async () => {
  const disabled = await seedClient(server.auth, ['reports:read']);
  await server.auth.registry.setClientEnabled(disabled.clientId, false);
  const a = await tokenRequest(server.app, disabled.clientId, disabled.clientSecret);
  const b = await tokenRequest(server.app, UNKNOWN_ID, WRONG);
  expectInvalidClient(a);
  expect(comparable(a)).toEqual(comparable(b));
});

test('unknown client vs wrong secret: timing within 0.5x-2x (medians of 40 interleaved samples each, bcrypt cost 8)', async () => {
  const time = async (id: string): Promise<number> => {
    const start = performance.now();
    const res = await tokenRequest(server.app, id, WRONG);
    const elapsed = performance.now() - start;
    expect(res.status).toBe(401);
    return elapsed;
  };
  // Warm up: the dummy hash, the worker, the statement cache.
  for (let i = 0; i < 4; i++) {
    await time(UNKNOWN_ID);
    await time(clientId);
  }
  const unknown: number[] = [];
  const wrong: number[] = [];
  for (let i = 0; i < 40; i++) {
    // Alternate which goes first so drift in machine load hits both alike.
    if (i % 2 === 0) {
      unknown.push(await time(`${UNKNOWN_ID.slice(0, 20)}${i.toString().padStart(2, '0')}`));
      wrong.push(await time(clientId));
    } else {
      wrong.push(await time(clientId));
      unknown.push(await time(`${UNKNOWN_ID.slice(0, 20)}${i.toString().padStart(2, '0')}`));
    }
  }
  const ratio = median(unknown) / median(wrong);
  // An unknown id that skipped bcrypt would answer in well under a tenth of the time.
  expect(ratio).toBeGreaterThan(0.5);
  expect(ratio).toBeLessThan(2);
});

test("unknown ids are checked against a dummy hash of the server's configured cost (4), whatever cost the clients seen were hashed at (CLI --bcrypt-cost 9)", async () => {
  const mixed = createTestServer({ bcryptCost: 4 });
  const bcryptCalls = watchBcryptPools();
  try {
    await mixed.auth.registry.createGroup('g', ['reports:read']);
    const cli = openRegistry(mixed.dbPath, { bcryptCost: 9, pruneIntervalSeconds: 0 });
    let made: { clientId: string; clientSecret: string };
    try {
      const created = await cli.createClient({ name: 'made by the CLI', groups: ['g'] });
      made = { clientId: created.client.clientId, clientSecret: created.clientSecret as string };
    } finally {
      await cli.close();
    }
    const local = await seedClient(mixed.auth, ['reports:read']);
    // The cost-9 client is seen first, right and wrong; then unknown ids and the cost-4 client's wrong secret.
    expect((await tokenRequest(mixed.app, made.clientId, made.clientSecret)).status).toBe(200);
    expectInvalidClient(await tokenRequest(mixed.app, made.clientId, WRONG));
    bcryptCalls.clear();
    for (const id of [UNKNOWN_ID, 'another-unknown-client-id', local.clientId, 'yet-another-unknown-id'])
      expectInvalidClient(await tokenRequest(mixed.app, id, WRONG));
    expect(bcryptCalls.calls.map((call) => call.hashes.map(bcryptCostOf))).toEqual([[4], [4], [4], [4]]);
    expect(bcryptCalls.calls.map(bcryptRuns)).toEqual([1, 1, 1, 1]);
  } finally {
    bcryptCalls.restore();
    await mixed.close();
  }
});
