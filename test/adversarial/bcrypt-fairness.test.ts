/**
 * bcrypt work is shared fairly between callers: the pool queues checks per source address, serves
 * the addresses in turn and caps what one address may have waiting, so a flood of unknown client ids
 * from some addresses cannot starve the first requests of real clients (not cached yet) from others.
 * Over real HTTP from several loopback source addresses (127.0.0.0/8 is all local).
 */
import { join } from 'node:path';
import { loopback, SourceAddress, sourceAddresses, type RawResponse } from '../support/http';
import { expectInvalidClient, expectTokenError, tokenFrom } from '../support/oauth';
import { seedClient, type SeededClient } from '../support/clients';
import { startIssuer, type TestIssuer } from '../support/servers';
import { memoryTempDir } from '../support/temp';
import { eventually } from '../support/time';

/** A 503 for a full bcrypt queue: temporarily_unavailable with Retry-After. */
function expectBusy(res: RawResponse): void {
  expectTokenError(res, 503, 'temporarily_unavailable');
  expect(res.headers['retry-after']).toBe('1');
}

describe('a flood of unknown client ids from 10 addresses (10 in flight each; bcrypt cost 9, one worker, 16 may wait)', () => {
  const flooders = sourceAddresses(10, 10);
  const real = sourceAddresses(30, 5);
  // The throttle commits its counters for every failure: in memory, the test does not wait on the disk.
  const memory = memoryTempDir('ccgate-fairness-');
  let issuer: TestIssuer;
  let clients: SeededClient[];
  beforeAll(async () => {
    // No lock in sight (the flood would otherwise be refused before bcrypt); a check refused for a full
    // queue is held back lockedDelayMs (the default 1 s), as in production.
    issuer = await startIssuer({
      db: join(memory.dir, 'ccgate.db'),
      bcryptCost: 9,
      bcryptWorkers: 1,
      bcryptQueue: 16,
      throttle: { maxFailuresPerClientAndAddress: 1e6, maxFailuresPerAddress: 1e6 },
    });
    clients = await Promise.all(real.at.map(() => seedClient(issuer.auth)));
  });
  afterAll(async () => {
    flooders.close();
    real.close();
    await issuer.close();
    memory.cleanup();
  });

  test("every real client's first request gets a token while the flood keeps the queue full", async () => {
    let flooding = true;
    const floodAnswers: RawResponse[] = [];
    let n = 0;
    const loops = flooders.at.flatMap((from) =>
      Array.from({ length: 10 }, async () => {
        while (flooding) floodAnswers.push(await tokenFrom(from, issuer, { clientId: `flood-${n++}-unknown-id`, clientSecret: 'flood-secret-xxxxxxxx' }));
      }),
    );
    try {
      // The queue is full once the flood is answered 503.
      await eventually(async () => (floodAnswers.some((r) => r.status === 503) ? true : undefined), { withinMs: 10_000, everyMs: 20 });
      const first = await Promise.all(real.at.map((from, i) => tokenFrom(from, issuer, clients[i])));
      expect(first.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    } finally {
      flooding = false;
      await Promise.all(loops);
    }
    for (const r of floodAnswers) {
      if (r.status === 503) expectBusy(r);
      else expectInvalidClient(r);
    }
    expect(issuer.serverErrors).toEqual([]);
  });
});

describe('one address flooding (bcrypt cost 10, one worker; 4 may wait per address, 64 in all)', () => {
  const flooder = new SourceAddress(loopback(2));
  const others = sourceAddresses(3, 3);
  let issuer: TestIssuer;
  let clients: SeededClient[];
  beforeAll(async () => {
    issuer = await startIssuer({ bcryptCost: 10, bcryptWorkers: 1, bcryptQueue: 64, bcryptQueuePerAddress: 4, throttle: false });
    clients = await Promise.all(Array.from({ length: 6 }, () => seedClient(issuer.auth)));
  });
  afterAll(async () => {
    flooder.close();
    others.close();
    await issuer.close();
  });

  test('its excess is answered 503 although the queue has room, while two new clients at each other address are served', async () => {
    const flood = Promise.all(
      Array.from({ length: 20 }, (_, i) => tokenFrom(flooder, issuer, { clientId: `flood-${i}-unknown-id`, clientSecret: 'flood-secret-xxxxxxxx' })),
    );
    const served = Promise.all(others.at.flatMap((from, i) => [tokenFrom(from, issuer, clients[2 * i]), tokenFrom(from, issuer, clients[2 * i + 1])]));
    const [floodAnswers, servedAnswers] = await Promise.all([flood, served]);
    expect(servedAnswers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const busy = floodAnswers.filter((r) => r.status === 503);
    // One check runs and 4 wait: most of the 20, sent at once, find the address's share full (64 in all would hold them).
    expect(busy.length).toBeGreaterThanOrEqual(5);
    for (const r of busy) expectBusy(r);
    for (const r of floodAnswers.filter((x) => x.status !== 503)) expectInvalidClient(r);
    expect(issuer.serverErrors).toEqual([]);
  });
});
