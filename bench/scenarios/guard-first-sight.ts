/**
 * 4. Guard, first sight of each token: every request carries a token the guard has never seen (verified
 * cache misses: header parse, RS256 signature check, claims, revocation lookup, cache insert/evict).
 * The tokens are pre-minted by a separate minter process with the registry's RS256 key, exactly as the
 * token endpoint signs them. Auth0's express-oauth2-jwt-bearer, in its own process with the issuer's
 * JWKS, gets the very same stream of never-seen tokens (it verifies every request anyway, so this is
 * its steady state). The bare route gets the same Authorization headers, so the load generator does
 * the same work on every side.
 */
import { startCcgate } from '../lib/ccgate';
import { AUDIENCE, assertClean, DURATION, ISSUER, SCOPE, fmt, measuredRun, median, ratioRow, ROUNDS as ALL_ROUNDS, WARMUP, type Scenario } from '../lib/common';
import { expect200, load, sourceServer, startServer, type LoadResult, type LoadSpec, type ServerHandle } from '../lib/harness';
import { mintTokens } from '../lib/mint';
import { seedRegistry } from '../lib/seed';

/** Requests per guarded measurement and per warm-up (each a never-seen token). */
const MEASURE_TOKENS = 10_000;
const WARMUP_TOKENS = 2_000;
/** The bare side runs for a duration (its tokens are ignored, so they may repeat). */
const BARE_DURATION = Math.max(DURATION, 2.5);
/** Each round needs its own never-seen tokens (minting costs ~0.15 ms each): three rounds at most. */
const ROUNDS = Math.min(ALL_ROUNDS, 3);

/** One side of the comparison: how to load it, and what its rounds measured. */
interface Side {
  label: string;
  stats: string;
  /** Loads once for warm-up, then measures one round. */
  round(): Promise<{ result: LoadResult; cpu: number; note: string }>;
  results: LoadResult[];
  cpu: number[];
}

export const guardFirstSight: Scenario = {
  name: 'guard-first-sight',
  title: 'Guard, first sight of each token (cache misses), beside Auth0 on the same tokens',
  async run(ctx) {
    const seeded = await seedRegistry({ clients: 4, algorithms: ['RS256'] });
    // Slack: autocannon builds a request per connection up front (and one after the last reply) that is never sent.
    const count = ROUNDS * (MEASURE_TOKENS + WARMUP_TOKENS) + 1_000;
    const tokens = await mintTokens(ctx, seeded, 'RS256', count);
    // The last token is the sanity check's: it is never part of a measured stream.
    const lastUsable = count - 2;

    const server = await startCcgate('ccgate', seeded);
    let auth0: ServerHandle | null = null;
    try {
      auth0 = await startServer('auth0', sourceServer('auth0-server.mjs'), {
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksUri: `${server.url}/oauth/jwks`,
        scope: SCOPE,
      });
      // Loads the keys on both; that token is never reused below.
      for (const s of [server, auth0]) await expect200(`${s.url}/guarded`, tokens[count - 1]);

      /** A side fed never-seen tokens, each from its own cursor over the same list. */
      const freshSide = (label: string, url: string): Side => {
        let next = 0;
        const spec = (amount: number): LoadSpec => ({
          url,
          path: '/guarded',
          amount,
          setup: (h) => void (h.authorization = `Bearer ${tokens[Math.min(next++, lastUsable)]}`),
        });
        const side: Side = {
          label,
          stats: url,
          results: [],
          cpu: [],
          async round() {
            await load(spec(WARMUP_TOKENS));
            const measured = await measuredRun(spec(MEASURE_TOKENS), url, ctx);
            // A token reused by mistake would be a cache hit and flatter the figure: refuse the run.
            if (next > lastUsable + 1) throw new Error(`${label}: ran out of distinct tokens (${next} > ${lastUsable + 1})`);
            return { ...measured, cpu: measured.cpu as number };
          },
        };
        return side;
      };
      let cycled = 0; // bare route: any token, cycling
      const bareSpec: LoadSpec = { url: server.url, path: '/bare', setup: (h) => void (h.authorization = `Bearer ${tokens[cycled++ % tokens.length]}`) };
      const bare: Side = {
        label: 'bare route',
        stats: server.url,
        results: [],
        cpu: [],
        async round() {
          await load({ ...bareSpec, duration: WARMUP });
          const measured = await measuredRun(bareSpec, server.url, ctx, { duration: BARE_DURATION });
          return { ...measured, cpu: measured.cpu as number };
        },
      };
      const guard = freshSide('ccgate guard, first-sight tokens', server.url);
      const auth0Side = freshSide('Auth0 guard, same tokens', auth0.url);
      const sides = [bare, guard, auth0Side];
      for (let round = 0; round < ROUNDS; round++) {
        for (let i = 0; i < sides.length; i++) {
          const side = sides[(i + round) % sides.length];
          const { result, cpu, note } = await side.round();
          assertClean(side.label, result);
          ctx.log(
            `  ${side.label.padEnd(34)} round ${round + 1}: ${fmt(result.rps)} req/s (${fmt(result.ok)} responses in ${result.seconds.toFixed(2)} s${note})`,
          );
          side.results.push(result);
          side.cpu.push(cpu);
        }
      }
      const rps = (side: Side): number => median(side.results.map((r) => r.rps));
      const cpu = (side: Side): number => median(side.cpu);
      const cpuNote = (a: Side, b: Side): string => `server CPU per request (median round): ${a.label} ${fmt(cpu(a))} µs, ${b.label} ${fmt(cpu(b))} µs`;
      const detail = `${fmt(MEASURE_TOKENS)} distinct RS256 tokens per measurement, median of ${ROUNDS} rounds`;
      return [
        ratioRow(
          this.name,
          'guard req/s, every token new, vs bare',
          'req/s',
          rps(guard),
          rps(bare),
          'bare',
          { min: 0.6 },
          `${detail}; ${cpuNote(guard, bare)}`,
        ),
        ratioRow(
          this.name,
          'guard req/s, every token new, vs Auth0 on the same tokens',
          'req/s',
          rps(guard),
          rps(auth0Side),
          'Auth0',
          { min: 0.9 },
          `${detail}; ${cpuNote(guard, auth0Side)}`,
        ),
        ratioRow(this.name, 'Auth0 guard req/s, every token new, vs bare', 'req/s', rps(auth0Side), rps(bare), 'bare', null),
        ratioRow(
          this.name,
          'server CPU per request, every token new, vs bare',
          'µs',
          cpu(guard),
          cpu(bare),
          'bare',
          null,
          'user + system CPU of the server process per 2xx response (median round); less sensitive to machine noise than req/s',
        ),
        ratioRow(this.name, 'Auth0 server CPU per request, same tokens, vs ccgate guard', 'µs', cpu(auth0Side), cpu(guard), 'ccgate guard', null),
      ];
    } finally {
      await Promise.all([server.stop(), auth0?.stop()]);
    }
  },
};
