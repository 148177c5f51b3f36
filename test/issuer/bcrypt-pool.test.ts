import bcrypt from 'bcryptjs';
import { HasherBusyError } from '../../lib';
import { BcryptPool } from '../../lib/issuer/bcrypt-pool';

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
    expect(await p.compare(SECRET, [hashA])).toBe(true);
    expect(await p.compare('wrong', [hashA])).toBe(false);
  });

  test('true when any of several hashes matches (rotation overlap), false for none', async () => {
    const p = pool({ workers });
    expect(await p.compare(SECRET, [hashB, hashA])).toBe(true);
    expect(await p.compare('nope', [hashB, hashA])).toBe(false);
    expect(await p.compare(SECRET, [])).toBe(false);
  });

  test('many concurrent compares each get their own answer', async () => {
    const p = pool({ workers });
    const inputs = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? SECRET : `wrong-${i}`));
    const results = await Promise.all(inputs.map((s) => p.compare(s, [hashA])));
    expect(results).toEqual(inputs.map((s) => s === SECRET));
  });

  test('after close, compare is refused', async () => {
    const p = pool({ workers });
    await p.close();
    await expect(p.compare(SECRET, [hashA])).rejects.toThrow(/closed/);
  });
});

test('a multibyte secret compares the same in a worker as bcryptjs on the main thread', async () => {
  const secret = 'pässwörd-日本語';
  const hash = await bcrypt.hash(secret, 4);
  const p = pool({ workers: 1 });
  expect(await p.compare(secret, [hash])).toBe(true);
  expect(await p.compare('passwörd-日本語', [hash])).toBe(false);
});

test('the queue is bounded: beyond maxQueue waiting compares, HasherBusyError', async () => {
  const p = pool({ workers: 1, maxQueue: 2 });
  const running = p.compare('x', [slowHash]); // runs
  const queued = [p.compare('x', [slowHash]), p.compare('x', [slowHash])]; // wait
  await expect(p.compare('x', [slowHash])).rejects.toBeInstanceOf(HasherBusyError);
  expect(await running).toBe(false);
  expect(await Promise.all(queued)).toEqual([false, false]);
  // Once drained, it accepts work again.
  expect(await p.compare(SECRET, [hashA])).toBe(true);
});

test('maxQueue 0 still runs a compare on an idle worker, and refuses only what would wait', async () => {
  const p = pool({ workers: 1, maxQueue: 0 });
  const running = p.compare('slow secret', [slowHash]);
  await expect(p.compare(SECRET, [hashA])).rejects.toBeInstanceOf(HasherBusyError);
  expect(await running).toBe(true);
  expect(await p.compare(SECRET, [hashA])).toBe(true);
});

test('the inline pool (workers: 0) is bounded the same way: one running plus maxQueue waiting', async () => {
  const p = pool({ workers: 0, maxQueue: 1 });
  const accepted = [p.compare('x', [slowHash]), p.compare('slow secret', [slowHash])];
  await expect(p.compare('x', [slowHash])).rejects.toBeInstanceOf(HasherBusyError);
  expect(await Promise.all(accepted)).toEqual([false, true]);
  expect(await p.compare(SECRET, [hashA])).toBe(true);
});

test('the inline pool with maxQueue 0 still compares one at a time', async () => {
  const p = pool({ workers: 0, maxQueue: 0 });
  expect(await p.compare(SECRET, [hashA])).toBe(true);
});

test('close rejects compares still waiting in the queue', async () => {
  const p = pool({ workers: 1, maxQueue: 10 });
  const running = p.compare('x', [slowHash]);
  const waiting = p.compare('x', [slowHash]);
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
