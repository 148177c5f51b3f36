/**
 * DPoP at the local guard (RFC 9449): what a DPoP-bound token costs beside a bearer token, in the same
 * run, on one ccgate server (SQLite registry, RS256 access tokens).
 *
 * guard-dpop: one bound token repeated (a verified-cache hit), with a new proof every request (the
 * guard checks each proof: ES256 signature by the header's jwk, its thumbprint against cnf.jkt, htm,
 * htu, iat, ath, and the jti once in its replay cache), against the same route with one bearer token
 * repeated, and the bare route; interleaved rounds as guard-overhead. The bound token comes from the
 * server's token endpoint with a DPoP proof (minted with cnf.jkt by the minter if the endpoint does
 * not bind it). Every target builds its request per request through the same hook, so the load
 * generator does the same work for each; the bare route gets the DPoP request's headers (one proof
 * again and again: the bare route reads none).
 *
 * guard-dpop-first-sight: every request a never-seen bound token with a new proof, against every
 * request a never-seen bearer token (as guard-first-sight): tokens pre-minted by the minter with the
 * registry's key, proofs (one per token, for its ath) signed right before each run.
 *
 * Proofs are signed before each run, untimed, and handed out one per request by the harness's
 * per-request hook (bench/lib/dpop.ts).
 */
import { startCcgate, startGuardServer } from '../lib/ccgate';
import {
  assertClean,
  fmt,
  measuredRun,
  measureInterleaved,
  median,
  ratioRow,
  ROUNDS as ALL_ROUNDS,
  TOKEN_BODY,
  type Measured,
  type ResultRow,
  type Scenario,
  type Target,
} from '../lib/common';
import { DpopProver, expectDpop200, fetchBoundToken, ProofFeed, tokenHash } from '../lib/dpop';
import { expect200, jwtHeader, load, type LoadResult, type LoadSpec } from '../lib/harness';
import { mintTokens } from '../lib/mint';
import { seedRegistry } from '../lib/seed';

const CPU_NOTE = 'user + system CPU of the server process per 2xx response (median round); less sensitive to machine noise than req/s';

const BARE = 'bare route';
const BEARER = 'guard, Bearer token repeated';
const DPOP = 'guard, DPoP token repeated';

export const guardDpop: Scenario = {
  name: 'guard-dpop',
  title: 'Guard, DPoP-bound token repeated (cache hit, a new proof every request) vs Bearer',
  async run(ctx) {
    const prover = new DpopProver();
    const local = await startGuardServer('ccgate', 'sqlite', { bare: BARE, guard: BEARER });
    const { server, seeded } = local;
    try {
      let bound = await fetchBoundToken(server, seeded, prover, TOKEN_BODY);
      if (bound === null) {
        ctx.log('  note: the token endpoint did not bind a token to the DPoP proof; using one minted with cnf.jkt instead');
        [bound] = await mintTokens(ctx, seeded, 'RS256', 1, { jkt: prover.jkt });
      }
      if (jwtHeader(bound).alg !== 'RS256') throw new Error('expected an RS256 bound token');
      const url = `${server.url}/guarded`;
      await expectDpop200(url, bound, prover);
      const feed = new ProofFeed(prover, { htm: 'GET', htu: url, token: bound });
      const dpopAuthorization = `DPoP ${bound}`;
      const bareProof = prover.proofNow({ htm: 'GET', htu: `${server.url}/bare`, ath: tokenHash(bound) });
      const bearerAuthorization = `Bearer ${local.token}`;
      const target = (label: string, spec: Omit<LoadSpec, 'url'>, extra: Partial<Target> = {}): Target => ({
        label,
        spec: { url: server.url, ...spec },
        stats: server.url,
        ...extra,
      });
      const m = await measureInterleaved(
        [
          target(BARE, {
            path: '/bare',
            setup: (h) => {
              h.authorization = dpopAuthorization;
              h.dpop = bareProof;
            },
          }),
          target(BEARER, { path: '/guarded', setup: (h) => void (h.authorization = bearerAuthorization) }),
          target(
            DPOP,
            {
              path: '/guarded',
              setup: (h) => {
                h.authorization = dpopAuthorization;
                h.dpop = feed.next();
              },
            },
            { feed },
          ),
        ],
        ctx,
      );
      const rps = (label: string): number => (m.get(label) as Measured).rps;
      const cpuOf = (label: string): number => m.get(label)?.cpuPerRequest ?? NaN;
      const cpuNote = (a: string, b: string): string => `server CPU per request (median round): ${a} ${fmt(cpuOf(a))} µs, ${b} ${fmt(cpuOf(b))} µs`;
      const S = this.name;
      const rows: ResultRow[] = [
        ratioRow(S, 'DPoP guard req/s vs Bearer guard (token repeated)', 'req/s', rps(DPOP), rps(BEARER), 'Bearer', { min: 0.85 }, cpuNote(DPOP, BEARER)),
        ratioRow(S, 'DPoP guard req/s vs bare', 'req/s', rps(DPOP), rps(BARE), 'bare', null, cpuNote(DPOP, BARE)),
        ratioRow(S, 'Bearer guard req/s vs bare', 'req/s', rps(BEARER), rps(BARE), 'bare', null, cpuNote(BEARER, BARE)),
        ratioRow(S, 'DPoP guard server CPU per request vs Bearer guard', 'µs', cpuOf(DPOP), cpuOf(BEARER), 'Bearer', null, CPU_NOTE),
        ratioRow(S, 'DPoP guard server CPU per request vs bare', 'µs', cpuOf(DPOP), cpuOf(BARE), 'bare', null, CPU_NOTE),
      ];
      return rows;
    } finally {
      await server.stop();
    }
  },
};

/** Requests per measurement and per warm-up, each with a never-seen token (and, DPoP, a new proof). */
const MEASURE_TOKENS = 6_000;
const WARMUP_TOKENS = 1_500;
/** Each round needs its own never-seen tokens (minted up front, two sets): three rounds at most. */
const FIRST_SIGHT_ROUNDS = Math.min(ALL_ROUNDS, 3);
const CONNECTIONS = 10;
/** Per run, requests autocannon builds beyond `amount` (one per connection up front, one after the last reply) and never sends. */
const RUN_SLACK = 2 * CONNECTIONS + 50;

/**
 * Never-seen tokens, one per request, in order; for DPoP each with its own proof, signed for the next
 * run by prepare(). An index past the tokens is clamped (the last token again: a cache hit) and refused
 * after the run, as guard-first-sight does.
 */
class FirstSightStream {
  private cursor = 0;
  private proofsFrom = 0;
  private proofs: string[] = [];
  private onDemand = 0;

  constructor(
    private readonly tokens: string[],
    /** With a prover: DPoP-bound tokens, each request with a new proof for `htu`. */
    private readonly dpop: { prover: DpopProver; htu: string } | null,
  ) {}

  /** Signs the proofs of the next `requests` requests (and the run's slack). */
  async prepare(requests: number): Promise<void> {
    if (!this.dpop) return;
    const { prover, htu } = this.dpop;
    const from = this.cursor;
    this.proofs = await prover.proofs(requests + RUN_SLACK, (i) => ({ htm: 'GET', htu, ath: tokenHash(this.tokens[Math.min(from + i, this.limit)]) }));
    this.proofsFrom = from;
  }

  /** The last token is kept for the sanity check before the runs. */
  private get limit(): number {
    return this.tokens.length - 2;
  }

  readonly setup = (h: Record<string, string>): void => {
    const i = Math.min(this.cursor++, this.limit);
    const token = this.tokens[i];
    if (!this.dpop) {
      h.authorization = `Bearer ${token}`;
      return;
    }
    h.authorization = `DPoP ${token}`;
    const k = i - this.proofsFrom;
    if (k < this.proofs.length) h.dpop = this.proofs[k];
    else {
      this.onDemand++;
      h.dpop = this.dpop.prover.proofNow({ htm: 'GET', htu: this.dpop.htu, ath: tokenHash(token) });
    }
  };

  /** Throws when the tokens ran out (a token reused is a cache hit and flatters the figure) or a run outran its proofs. */
  check(label: string): void {
    if (this.cursor > this.limit) throw new Error(`${label}: ran out of distinct tokens (${this.cursor} > ${this.limit})`);
    if (this.onDemand > 0) throw new Error(`${label}: ${this.onDemand} proofs signed during the runs (the prepared ones ran out)`);
  }
}

const BEARER_NEW = 'guard, Bearer first sight';
const DPOP_NEW = 'guard, DPoP first sight';

export const guardDpopFirstSight: Scenario = {
  name: 'guard-dpop-first-sight',
  title: 'Guard, DPoP first sight (new bound token and new proof every request) vs Bearer first sight',
  async run(ctx) {
    const prover = new DpopProver();
    const seeded = await seedRegistry({ clients: 4, algorithms: ['RS256'] });
    const count = FIRST_SIGHT_ROUNDS * (MEASURE_TOKENS + WARMUP_TOKENS + 2 * RUN_SLACK) + 2;
    const bearerTokens = await mintTokens(ctx, seeded, 'RS256', count);
    const boundTokens = await mintTokens(ctx, seeded, 'RS256', count, { jkt: prover.jkt });

    const server = await startCcgate('ccgate', seeded);
    try {
      const url = `${server.url}/guarded`;
      // Loads the keys; these last tokens are never used below.
      await expect200(url, bearerTokens[count - 1]);
      await expectDpop200(url, boundTokens[count - 1], prover);
      const streams: Record<string, FirstSightStream> = {
        [BEARER_NEW]: new FirstSightStream(bearerTokens, null),
        [DPOP_NEW]: new FirstSightStream(boundTokens, { prover, htu: url }),
      };
      const results: Record<string, LoadResult[]> = { [BEARER_NEW]: [], [DPOP_NEW]: [] };
      const cpus: Record<string, number[]> = { [BEARER_NEW]: [], [DPOP_NEW]: [] };
      const run = async (label: string, round: number): Promise<void> => {
        const stream = streams[label];
        const spec = (amount: number): LoadSpec => ({ url: server.url, path: '/guarded', amount, connections: CONNECTIONS, setup: stream.setup });
        await stream.prepare(WARMUP_TOKENS);
        assertClean(`${label} (warm-up)`, await load(spec(WARMUP_TOKENS)));
        await stream.prepare(MEASURE_TOKENS);
        const { result: r, cpu, note } = await measuredRun(spec(MEASURE_TOKENS), server.url, ctx);
        assertClean(label, r);
        ctx.log(`  ${label.padEnd(34)} round ${round + 1}: ${fmt(r.rps)} req/s (${fmt(r.ok)} tokens in ${r.seconds.toFixed(2)} s${note})`);
        results[label].push(r);
        cpus[label].push(cpu as number);
      };
      for (let round = 0; round < FIRST_SIGHT_ROUNDS; round++) {
        const order = round % 2 === 0 ? [BEARER_NEW, DPOP_NEW] : [DPOP_NEW, BEARER_NEW];
        for (const label of order) await run(label, round);
      }
      for (const [label, stream] of Object.entries(streams)) stream.check(label);
      const rps = (label: string): number => median(results[label].map((r) => r.rps));
      const cpu = (label: string): number => median(cpus[label]);
      const S = this.name;
      return [
        ratioRow(
          S,
          'DPoP first sight req/s vs Bearer first sight',
          'req/s',
          rps(DPOP_NEW),
          rps(BEARER_NEW),
          'Bearer',
          null,
          `${fmt(MEASURE_TOKENS)} never-seen RS256 tokens per measurement (DPoP: each with a new ES256 proof), median of ${FIRST_SIGHT_ROUNDS} rounds; ` +
            `server CPU per request (median round): DPoP ${fmt(cpu(DPOP_NEW))} µs, Bearer ${fmt(cpu(BEARER_NEW))} µs`,
        ),
        ratioRow(S, 'DPoP first sight server CPU per request vs Bearer first sight', 'µs', cpu(DPOP_NEW), cpu(BEARER_NEW), 'Bearer', null, CPU_NOTE),
      ];
    } finally {
      await server.stop();
    }
  },
};
