import bcrypt from 'bcryptjs';
import { HasherBusyError } from '../../lib';
import { BcryptPool, saltOf } from '../../lib/issuer/bcrypt-pool';

const SECRET = 'correct horse battery staple';
let hashA: string;
let hashB: string;
let slowHash: string;
beforeAll(async () => {
  hashA = await bcrypt.hash(SECRET, 4);
  hashB = await bcrypt.hash('another secret entirely', 4);
  // Slow enough (cost 10, tens of ms) that compares pile up behind it.
  slowHash = await bcrypt.hash('slow secret', 10);
});

/** true when `secret` matches one of `hashes` (the pool's match() for one candidate). */
const compare = (p: BcryptPool, secret: string, hashes: string[], source?: string): Promise<boolean> =>
  p.match([secret], hashes, source).then((m) => m !== null);

const pools: BcryptPool[] = [];
function pool(options: ConstructorParameters<typeof BcryptPool>[0]): BcryptPool {
  const p = new BcryptPool(options);
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe.each([
  ['worker threads', 2],
  ['the main thread (workers: 0)', 0],
])('compares on %s', (_label, workers) => {
  test('a matching secret is true, a wrong one false', async () => {
    const p = pool({ workers });
    expect(await compare(p, SECRET, [hashA])).toBe(true);
    expect(await compare(p, 'wrong', [hashA])).toBe(false);
  });

  test('true when any of several hashes matches (rotation overlap), false for none', async () => {
    const p = pool({ workers });
    expect(await compare(p, SECRET, [hashB, hashA])).toBe(true);
    expect(await compare(p, 'nope', [hashB, hashA])).toBe(false);
    expect(await compare(p, SECRET, [])).toBe(false);
  });

  test('many concurrent compares each get their own answer', async () => {
    // One source for all twenty: its share of the queue must hold them.
    const p = pool({ workers, maxQueuePerSource: 64 });
    const inputs = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? SECRET : `wrong-${i}`));
    const results = await Promise.all(inputs.map((s) => compare(p, s, [hashA])));
    expect(results).toEqual(inputs.map((s) => s === SECRET));
  });

  test('after close, compare is refused', async () => {
    const p = pool({ workers });
    await p.close();
    await expect(compare(p, SECRET, [hashA])).rejects.toThrow(/closed/);
  });
});

test('a multibyte secret compares the same in a worker as bcryptjs on the main thread', async () => {
  const secret = 'pässwörd-日本語';
  const hash = await bcrypt.hash(secret, 4);
  const p = pool({ workers: 1 });
  expect(await compare(p, secret, [hash])).toBe(true);
  expect(await compare(p, 'passwörd-日本語', [hash])).toBe(false);
});

test('the queue is bounded: beyond maxQueue waiting checks, HasherBusyError', async () => {
  const p = pool({ workers: 1, maxQueue: 2 });
  const running = compare(p, 'x', [slowHash]); // runs
  const queued = [compare(p, 'x', [slowHash]), compare(p, 'x', [slowHash])]; // wait
  await expect(compare(p, 'x', [slowHash])).rejects.toBeInstanceOf(HasherBusyError);
  expect(await running).toBe(false);
  expect(await Promise.all(queued)).toEqual([false, false]);
  // Once drained, it accepts work again.
  expect(await compare(p, SECRET, [hashA])).toBe(true);
});

test('maxQueue 0 still runs a compare on an idle worker, and refuses only what would wait', async () => {
  const p = pool({ workers: 1, maxQueue: 0 });
  const running = compare(p, 'slow secret', [slowHash]);
  await expect(compare(p, SECRET, [hashA])).rejects.toBeInstanceOf(HasherBusyError);
  expect(await running).toBe(true);
  expect(await compare(p, SECRET, [hashA])).toBe(true);
});

test('the inline pool (workers: 0) is bounded the same way: one running plus maxQueue waiting', async () => {
  const p = pool({ workers: 0, maxQueue: 1 });
  const accepted = [compare(p, 'x', [slowHash]), compare(p, 'slow secret', [slowHash])];
  await expect(compare(p, 'x', [slowHash])).rejects.toBeInstanceOf(HasherBusyError);
  expect(await Promise.all(accepted)).toEqual([false, true]);
  expect(await compare(p, SECRET, [hashA])).toBe(true);
});

test('the inline pool with maxQueue 0 still compares one at a time', async () => {
  const p = pool({ workers: 0, maxQueue: 0 });
  expect(await compare(p, SECRET, [hashA])).toBe(true);
});

test('close rejects compares still waiting in the queue', async () => {
  const p = pool({ workers: 1, maxQueue: 10 });
  const running = compare(p, 'x', [slowHash]);
  const waiting = compare(p, 'x', [slowHash]);
  const settled = Promise.allSettled([running, waiting]);
  await p.close();
  const [r, w] = await settled;
  expect(w).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/closed/) }) });
  // The compare that was running when its worker was terminated settles too (it never hangs).
  expect(r).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/closed/) }) });
});

test('a closed pool closes idempotently', async () => {
  const p = pool({ workers: 2 });
  await p.close();
  await expect(p.close()).resolves.toBeUndefined();
});

describe('several candidates and shared salts', () => {
  test('the first matching candidate and the hash it matched are returned', async () => {
    const p = pool({ workers: 1 });
    expect(await p.match(['wrong', SECRET], [hashB, hashA])).toEqual({ candidate: SECRET, hash: hashA });
    expect(await p.match(['wrong', 'also wrong'], [hashA])).toBeNull();
    expect(await p.match([], [hashA])).toBeNull();
  });

  test('hashes sharing one salt (a rotation overlap) are checked together: either secret matches', async () => {
    const salt = saltOf(hashA);
    const next = await bcrypt.hash('the next secret', salt);
    expect(saltOf(next)).toBe(salt);
    for (const workers of [1, 0]) {
      const p = pool({ workers });
      expect(await p.match([SECRET], [next, hashA])).toEqual({ candidate: SECRET, hash: hashA });
      expect(await p.match(['the next secret'], [next, hashA])).toEqual({ candidate: 'the next secret', hash: next });
      expect(await p.match(['neither'], [next, hashA])).toBeNull();
    }
  });
});

describe('fairness: the queue is served source by source', () => {
  test('a source flooding the queue is capped at maxQueuePerSource; another source still gets in and is served next', async () => {
    const p = pool({ workers: 1, maxQueue: 4, maxQueuePerSource: 2 });
    const order: string[] = [];
    const track = (label: string, source: string) =>
      compare(p, 'x', [slowHash], source).then(
        () => void order.push(label),
        (err: unknown) => void order.push(`${label}:${err instanceof HasherBusyError ? 'busy' : 'error'}`),
      );
    const flood = [track('a0', 'A'), track('a1', 'A'), track('a2', 'A'), track('a3', 'A')];
    const fair = track('b0', 'B');
    await Promise.all([...flood, fair]);
    // a0 ran at once (idle worker), a1 and a2 waited (A's cap is 2), a3 was refused; B's check went before A's second.
    expect(order.filter((o) => o.endsWith(':busy'))).toEqual(['a3:busy']);
    expect(order.filter((o) => !o.endsWith(':busy'))).toEqual(['a0', 'a1', 'b0', 'a2']);
  });

  test('when the queue is full, a source with nothing waiting still gets in: the longest queue gives up its newest check', async () => {
    const p = pool({ workers: 1, maxQueue: 2, maxQueuePerSource: 2 });
    const running = compare(p, 'x', [slowHash], 'A');
    const a1 = compare(p, 'x', [slowHash], 'A');
    const a2 = compare(p, 'x', [slowHash], 'A');
    const b = compare(p, SECRET, [hashA], 'B');
    await expect(a2).rejects.toBeInstanceOf(HasherBusyError);
    expect(await b).toBe(true);
    expect(await Promise.all([running, a1])).toEqual([false, false]);
  });
});
