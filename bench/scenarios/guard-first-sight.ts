/**
 * 4. Guard, first sight of each token: every request carries a token the guard has never seen (verified
 * cache misses: header parse, RS256 signature check, claims, revocation lookup, cache insert/evict).
 * The tokens are pre-minted by a separate minter process with the registry's RS256 key, exactly as the
 * token endpoint signs them. The bare route gets the same stream of Authorization headers, so the load
 * generator does the same work on both sides.
 */
import { startCcgate } from '../lib/ccgate';
import { assertClean, DURATION, fmt, measuredRun, median, ratioRow, ROUNDS as ALL_ROUNDS, WARMUP, type Scenario } from '../lib/common';
import { expect200, load, type LoadResult, type LoadSpec } from '../lib/harness';
import { mintTokens } from '../lib/mint';
import { seedRegistry } from '../lib/seed';

/** Requests per guarded measurement and per warm-up (each a never-seen token). */
const MEASURE_TOKENS = 10_000;
const WARMUP_TOKENS = 2_000;
/** The bare side runs for a duration (its tokens are ignored, so they may repeat). */
const BARE_DURATION = Math.max(DURATION, 2.5);
/** Each round needs its own never-seen tokens (minting costs ~0.15 ms each): three rounds at most. */
const ROUNDS = Math.min(ALL_ROUNDS, 3);

export const guardFirstSight: Scenario = {
  name: 'guard-first-sight',
  title: 'Guard, first sight of each token (cache misses)',
  async run(ctx) {
    const seeded = await seedRegistry({ clients: 4, algorithms: ['RS256'] });
    // Slack: autocannon builds a request per connection up front (and one after the last reply) that is never sent.
    const count = ROUNDS * (MEASURE_TOKENS + WARMUP_TOKENS) + 1_000;
    const tokens = await mintTokens(ctx, seeded, 'RS256', count);

    const server = await startCcgate('ccgate', seeded);
    try {
      await expect200(`${server.url}/guarded`, tokens[tokens.length - 1]); // loads the keys; this token is never reused below
      let fresh = 0; // next never-used token for the guard
      let cycled = 0; // bare route: any token, cycling
      const base: LoadSpec = { url: server.url, path: '/bare' };
      const bareSpec: LoadSpec = { ...base, setup: (h) => void (h.authorization = `Bearer ${tokens[cycled++ % tokens.length]}`) };
      const guardSpec = (amount: number): LoadSpec => ({
        url: server.url,
        path: '/guarded',
        amount,
        // count - 1: the last token was used by the sanity check above.
        setup: (h) => void (h.authorization = `Bearer ${tokens[Math.min(fresh++, count - 2)]}`),
      });
      const bare: LoadResult[] = [];
      const guard: LoadResult[] = [];
      const bareCpu: number[] = [];
      const guardCpu: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const runBare = async (): Promise<void> => {
          await load({ ...bareSpec, duration: WARMUP });
          const { result: r, cpu, note } = await measuredRun(bareSpec, server.url, ctx, { duration: BARE_DURATION });
          assertClean('bare route', r);
          ctx.log(`  ${'bare route'.padEnd(34)} round ${round + 1}: ${fmt(r.rps)} req/s (${note.slice(2)})`);
          bare.push(r);
          bareCpu.push(cpu as number);
        };
        const runGuard = async (): Promise<void> => {
          await load(guardSpec(WARMUP_TOKENS));
          const { result: r, cpu, note } = await measuredRun(guardSpec(MEASURE_TOKENS), server.url, ctx);
          assertClean('guard, first-sight tokens', r);
          ctx.log(
            `  ${'guard, first-sight tokens'.padEnd(34)} round ${round + 1}: ${fmt(r.rps)} req/s (${fmt(r.ok)} tokens in ${r.seconds.toFixed(2)} s${note})`,
          );
          guard.push(r);
          guardCpu.push(cpu as number);
        };
        if (round % 2 === 0) {
          await runBare();
          await runGuard();
        } else {
          await runGuard();
          await runBare();
        }
      }
      // A token reused by mistake would be a cache hit and flatter the figure: refuse the run.
      if (fresh > count - 1) throw new Error(`ran out of distinct tokens (${fresh} > ${count - 1})`);
      const rps = (list: LoadResult[]): number => median(list.map((r) => r.rps));
      return [
        ratioRow(
          this.name,
          'guard req/s, every token new, vs bare',
          'req/s',
          rps(guard),
          rps(bare),
          'bare',
          { min: 0.6 },
          `${fmt(MEASURE_TOKENS)} distinct RS256 tokens per measurement, median of ${ROUNDS} rounds`,
        ),
        ratioRow(
          this.name,
          'server CPU per request, every token new, vs bare',
          'µs',
          median(guardCpu),
          median(bareCpu),
          'bare',
          null,
          'user + system CPU of the server process per 2xx response (median round); less sensitive to machine noise than req/s',
        ),
      ];
    } finally {
      await server.stop();
    }
  },
};
