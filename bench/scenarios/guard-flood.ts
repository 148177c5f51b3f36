/**
 * 5. Guard latency under a brute-force flood: p99 of a guarded route (cached token; a paced probe,
 * autocannon overallRate GUARD_RATE over two connections, achieved rate reported) while a second
 * autocannon instance hammers the token endpoint of the SAME server process with a wrong secret,
 * against the same probe's p99 with no flood. Run twice:
 *  - with ccgate's default failed-auth throttle, 500 connections (the client and the address lock
 *    after 10 / 50 failures; a locked caller gets its 429 after a 1 s tarpit, without bcrypt), and
 *  - with throttle: false, 50 connections, which is what a flood spread over many addresses and
 *    client ids costs: every attempt runs a cost-10 bcrypt compare in the worker pool
 *    (bcryptWorkers default = cores).
 * Reported: the worst flooded round's p99 against the median quiet round's.
 * Latencies are exact (every 2xx response time recorded, not autocannon's 1 ms histogram). The probe
 * is closed-loop: when the server falls behind, it sends less (its achieved rate is in the notes).
 */
import { startCcgate } from '../lib/ccgate';
import {
  DURATION,
  fmt,
  median,
  ratioRow,
  REWARMUP,
  ROUNDS,
  TOKEN_BODY,
  tokenEndpointSpec,
  WARMUP,
  type ResultRow,
  type RunContext,
  type Scenario,
} from '../lib/common';
import { basicAuth, fetchToken, load, sleep, type LoadResult, type LoadSpec } from '../lib/harness';
import { seedRegistry } from '../lib/seed';

const GUARD_RATE = 1000;
// Two connections: with more, autocannon's paced connections fire in the same tick and the probe's own
// bursts dominate p99 (a trivial node:http server shows p99 0.5 ms with 2 connections, 5.7 ms with 8).
const GUARD_CONNECTIONS = 2;
/** Without throttle: 50 connections keep the bcrypt pool and most of its queue (64) busy, no 503s. */
const FLOOD_CONNECTIONS = 50;
/**
 * With the default throttle a locked caller's 429 is held for lockedDelayMs (1 s), so each connection
 * sends about one request a second: 500 connections, before the lock also overflow the bcrypt queue.
 */
const THROTTLED_FLOOD_CONNECTIONS = 500;
const MEASURE = Math.max(DURATION, 3);
const FLOOD_ROUNDS = Math.min(ROUNDS, 2);

async function variant(ctx: RunContext, scenario: string, label: string, throttle: boolean, floodConnections: number): Promise<ResultRow> {
  const seeded = await seedRegistry({ clients: 4 });
  const server = await startCcgate(`ccgate (${label})`, seeded, { throttle });
  try {
    const token = await fetchToken(`${server.url}/oauth/token`, seeded.clientIds[0], seeded.secret, TOKEN_BODY);
    const guard: LoadSpec = {
      url: server.url,
      path: '/guarded',
      headers: { authorization: `Bearer ${token}` },
      connections: GUARD_CONNECTIONS,
      overallRate: GUARD_RATE,
      recordLatencies: true,
    };
    const flood = tokenEndpointSpec(server.url, {
      headers: { authorization: basicAuth(seeded.clientIds[1], 'wrong-secret-wrong-secret-wrong') },
      connections: floodConnections,
    });
    const quiet: LoadResult[] = [];
    const flooded: LoadResult[] = [];
    const floods: LoadResult[] = [];
    for (let round = 0; round < FLOOD_ROUNDS; round++) {
      await load({ ...guard, duration: round === 0 ? WARMUP : REWARMUP });
      const q = await load({ ...guard, duration: MEASURE });
      quiet.push(q);
      const floodRun = load({ ...flood, duration: MEASURE + 1.5 });
      await sleep(750); // let the flood fill the bcrypt queue (or trip the throttle)
      const f = await load({ ...guard, duration: MEASURE });
      flooded.push(f);
      floods.push(await floodRun);
      await sleep(500);
      const last = floods[floods.length - 1];
      ctx.log(
        `  ${label.padEnd(26)} round ${round + 1}: p99 ${q.p99.toFixed(2)} ms quiet, ${f.p99.toFixed(2)} ms flooded ` +
          `(guard ${fmt(f.rps)} req/s ok, ${f.non2xx} non-2xx; flood ${fmt(last.total / last.seconds)} req/s ${JSON.stringify(last.statusCodes)})`,
      );
      for (const r of [q, f]) {
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${label}: guarded requests failed ${JSON.stringify(r.statusCodes)} errors ${r.errors}`);
      }
    }
    // Quiet: the median round. Flooded: the WORST round; the rounds differ by design (the first one
    // includes the time before the throttle locks the flooding client and address).
    const quietP99 = median(quiet.map((r) => r.p99));
    const floodP99 = Math.max(...flooded.map((r) => r.p99));
    const floodCodes: Record<string, number> = {};
    for (const f of floods) for (const [code, n] of Object.entries(f.statusCodes)) floodCodes[code] = (floodCodes[code] ?? 0) + n;
    const notes =
      `${FLOOD_ROUNDS} rounds: worst flooded p99 (${flooded.map((r) => r.p99.toFixed(2)).join(', ')} ms) vs median quiet p99 (${quiet.map((r) => r.p99.toFixed(2)).join(', ')} ms); guard probe: overallRate ${GUARD_RATE} over ${GUARD_CONNECTIONS} connections (achieved ` +
      `${fmt(median(quiet.map((r) => r.rps)))} req/s quiet, ${fmt(median(flooded.map((r) => r.rps)))} flooded); flood ${floodConnections} connections, ` +
      `${fmt(median(floods.map((r) => r.total / r.seconds)))} req/s, status counts ${JSON.stringify(floodCodes)}; guarded p50 ` +
      `${median(quiet.map((r) => r.p50)).toFixed(2)} -> ${median(flooded.map((r) => r.p50)).toFixed(2)} ms`;
    return ratioRow(scenario, `guarded p99 under flood (${label})`, 'ms', floodP99, quietP99, 'no flood', { max: 2 }, notes);
  } finally {
    await server.stop();
  }
}

export const guardFlood: Scenario = {
  name: 'guard-flood',
  title: 'Guard latency under a brute-force flood on the token endpoint',
  async run(ctx) {
    return [
      await variant(ctx, this.name, `default throttle, ${THROTTLED_FLOOD_CONNECTIONS} conns`, true, THROTTLED_FLOOD_CONNECTIONS),
      await variant(ctx, this.name, `throttle off, ${FLOOD_CONNECTIONS} conns`, false, FLOOD_CONNECTIONS),
    ];
  },
};
