/** Time in tests: a hand-moved clock, waiting, polling. */

/** A clock the tests move by hand (Unix seconds in `t`). */
export class TestClock {
  constructor(public t = 1_700_000_000) {}
  readonly now = (): number => this.t;
  advance(seconds: number): void {
    this.t += seconds;
  }
}

/** The real clock in Unix seconds, as tokens count it. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A deadline for eventually(): give up once `withinMs` have passed, probing every `everyMs` (default 100). */
export interface Deadline {
  withinMs: number;
  everyMs?: number;
}

/**
 * Polls `probe` until it returns a non-undefined value: every 100 ms, at most `limit` times, or, with
 * a Deadline, until `withinMs` have passed (a probe is always tried once more at the deadline).
 */
export async function eventually<T>(probe: () => Promise<T | undefined>, limit: number | Deadline = 100): Promise<T> {
  const attempts = typeof limit === 'number' ? limit : Infinity;
  const deadline = typeof limit === 'number' ? Infinity : Date.now() + limit.withinMs;
  const every = typeof limit === 'number' ? 100 : (limit.everyMs ?? 100);
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(every, left));
  }
  throw new Error(typeof limit === 'number' ? 'condition not reached' : `condition not reached within ${limit.withinMs} ms`);
}

/** The median of some timings. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `work` and measures it: its value and the milliseconds it took. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

/** The labels of `racing` in the order their promises settled (fulfilled or rejected). */
export async function settleOrder(racing: Record<string, Promise<unknown>>): Promise<string[]> {
  const order: string[] = [];
  await Promise.allSettled(Object.entries(racing).map(([label, p]) => p.finally(() => order.push(label))));
  return order;
}
