/**
 * 2. Token endpoint, repeat clients: four clients asking again and again (client_secret_basic), ccgate
 *    RS256 and ES256 against oidc-provider v9 (RS256 JWT access tokens) in the same run, and against
 *    the bcrypt-every-time rate.
 * 3. Token endpoint, cold clients: every request a different client, so every request runs one cost-10
 *    bcrypt compare: the worker pool (bcryptWorkers default = cores) against bcryptWorkers: 0.
 *
 * The bcrypt-every-time baseline of (2) is the bcryptWorkers: 0 cold-client rate of (3): a ccgate
 * server whose secret cache can never hit, because each of thousands of seeded clients (distinct
 * client_ids, one shared cost-10 hash) is used exactly once, and whose compares run on the main thread.
 */
import { repeatClientsTarget, startCcgate, startTokenServer, warmClients } from '../lib/ccgate';
import {
  AUDIENCE,
  DURATION,
  fmt,
  ROUNDS,
  measureInterleaved,
  ratioRow,
  type Measured,
  SCOPE,
  tokenEndpointSpec,
  type ResultRow,
  type RunContext,
  type Scenario,
  type Target,
} from '../lib/common';
import { basicAuth, sourceServer, startServer, type ServerHandle } from '../lib/harness';
import { seedRegistry, type Seeded } from '../lib/seed';

const COLD_CLIENTS = 3000;
const COLD_DURATION = Math.max(DURATION, 3);
const COLD_CONNECTIONS = 8;
/** Long enough for COLD_CONNECTIONS abandoned checks to finish on one core. */
const COLD_SETTLE_MS = 1500;
/** Three rounds: a median that one disturbed round cannot move (two cores: a busy neighbour halves the pool). */
const COLD_ROUNDS = Math.min(ROUNDS, 3);
const BASELINE_KEY = 'bcrypt-every-time req/s';

interface ColdServer {
  server: ServerHandle;
  target: Target;
}

/** A ccgate server with COLD_CLIENTS seeded clients, and a load target using each client once. */
async function startColdServer(label: string, bcryptWorkers: number | undefined): Promise<ColdServer> {
  const seeded: Seeded = await seedRegistry({ clients: COLD_CLIENTS });
  const server = await startCcgate(label, seeded, { bcryptWorkers });
  let next = 0;
  const target: Target = {
    label,
    stats: server.url,
    // The warm-up leaves up to COLD_CONNECTIONS checks behind (one bcrypt each, ~0.1 s on one core).
    settleMs: COLD_SETTLE_MS,
    spec: tokenEndpointSpec(server.url, {
      connections: COLD_CONNECTIONS,
      // Each client once; if they ever ran out, a wrong secret makes the run fail loudly (401s).
      setup: (h) => {
        const id = seeded.clientIds[next++];
        h.authorization = id === undefined ? basicAuth('exhausted', 'x'.repeat(32)) : basicAuth(id, seeded.secret);
      },
    }),
  };
  return { server, target };
}

/** The bcrypt-every-time rate, measured once per run (by token-cold, or here if it did not run). */
async function bcryptEveryTime(ctx: RunContext): Promise<number> {
  const known = ctx.memo.get(BASELINE_KEY) as number | undefined;
  if (known !== undefined) return known;
  const cold = await startColdServer('cold clients, bcryptWorkers: 0', 0);
  try {
    const m = await measureInterleaved([cold.target], ctx, { duration: COLD_DURATION, rounds: 1 });
    const rps = [...m.values()][0].rps;
    ctx.memo.set(BASELINE_KEY, rps);
    return rps;
  } finally {
    await cold.server.stop();
  }
}

export const tokenCold: Scenario = {
  name: 'token-cold',
  title: 'Token endpoint, cold clients (one bcrypt cost-10 compare per request)',
  async run(ctx) {
    const pool = await startColdServer('cold clients, worker pool', undefined);
    const single = await startColdServer('cold clients, bcryptWorkers: 0', 0);
    try {
      const m = await measureInterleaved([pool.target, single.target], ctx, { duration: COLD_DURATION, rounds: COLD_ROUNDS });
      const poolRps = (m.get(pool.target.label) as Measured).rps;
      const singleRps = (m.get(single.target.label) as Measured).rps;
      ctx.memo.set(BASELINE_KEY, singleRps);
      const cpu = (t: Target): string => `${fmt((m.get(t.label)?.cpuPerRequest ?? NaN) / 1000, 1)} ms`;
      return [
        ratioRow(
          this.name,
          'worker pool tokens/s vs bcryptWorkers: 0',
          'tokens/s',
          poolRps,
          singleRps,
          'workers:0',
          { min: 1.8 },
          `${COLD_CLIENTS} seeded clients, each used once; ${COLD_CONNECTIONS} connections; server CPU per token: pool ${cpu(pool.target)}, workers:0 ${cpu(single.target)}`,
        ),
      ];
    } finally {
      await Promise.all([pool.server.stop(), single.server.stop()]);
    }
  },
};

export const tokenRepeat: Scenario = {
  name: 'token-repeat',
  title: 'Token endpoint, repeat clients (4 clients, again and again)',
  async run(ctx) {
    const baseline = await bcryptEveryTime(ctx);
    const rs = await startTokenServer('ccgate RS256', 'sqlite', 'RS256');
    const es = await startTokenServer('ccgate ES256', 'sqlite', 'ES256');
    // oidc-provider knows the RS256 registry's clients, with the same secret.
    const oidcClients = rs.seeded.clientIds.map((id) => ({ id, secret: rs.seeded.secret }));
    const oidc = await startServer('oidc-provider', sourceServer('oidc-server.mjs'), { clients: oidcClients, audience: AUDIENCE, scope: SCOPE });
    try {
      // Sanity (each issues the expected kind of token) and warm-up: every client asks once, one at a time.
      await warmClients(oidc, rs.seeded, 'RS256', '/token');
      const m = await measureInterleaved([rs.target, es.target, repeatClientsTarget('oidc-provider RS256 (JWT)', oidc, rs.seeded, '/token')], ctx);
      const rps = (label: string): number => (m.get(label) as Measured).rps;
      const cpu = (label: string): string => `${fmt(m.get(label)?.cpuPerRequest ?? NaN)} µs`;
      const cpuNote = `server CPU per token (all threads, median round): ccgate RS256 ${cpu('ccgate RS256')}, ccgate ES256 ${cpu('ccgate ES256')}, oidc-provider ${cpu('oidc-provider RS256 (JWT)')}`;
      const S = this.name;
      const rsRps = rps('ccgate RS256');
      const esRps = rps('ccgate ES256');
      const oidcRps = rps('oidc-provider RS256 (JWT)');
      const rows: ResultRow[] = [
        ratioRow(S, 'RS256 tokens/s vs oidc-provider', 'tokens/s', rsRps, oidcRps, 'oidc-provider', { min: 1.05 }, cpuNote),
        {
          scenario: S,
          metric: 'ES256 tokens/s (absolute)',
          unit: 'tokens/s',
          value: esRps,
          baseline: 1500,
          baselineLabel: '1,500 tokens/s',
          ratio: esRps / 1500,
          target: '>= 1,500 tokens/s',
          met: esRps >= 1500,
        },
        ratioRow(
          S,
          'RS256 tokens/s vs bcrypt-every-time',
          'tokens/s',
          rsRps,
          baseline,
          'bcrypt-every-time',
          { min: 50 },
          'baseline: cold clients (each used once), bcryptWorkers: 0, cost 10',
        ),
        ratioRow(
          S,
          'ES256 tokens/s vs bcrypt-every-time',
          'tokens/s',
          esRps,
          baseline,
          'bcrypt-every-time',
          { min: 50 },
          'baseline: cold clients (each used once), bcryptWorkers: 0, cost 10',
        ),
        ratioRow(S, 'ES256 tokens/s vs oidc-provider (RS256)', 'tokens/s', esRps, oidcRps, 'oidc-provider', { min: 1.3 }, cpuNote),
      ];
      return rows;
    } finally {
      await Promise.all([rs.server.stop(), es.server.stop(), oidc.stop()]);
    }
  },
};
