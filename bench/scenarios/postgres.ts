/**
 * 8. The PostgreSQL backend, through the same bench server and the same targets as the SQLite
 * scenarios: only the seeded registry differs (a fresh database on the PostgreSQL server, seeded with
 * the same rows; see lib/seed.ts and lib/postgres.ts), and ccgate gets its postgres:// URL as `db`.
 *
 *  - postgres-guard: the local guard with the same RS256 token repeated (cache hits) against the bare
 *    route of the same process, as guard-overhead does on SQLite.
 *  - postgres-token: the token endpoint, 4 repeat clients, PostgreSQL against SQLite in the same run,
 *    interleaved: RS256 (the target; all rounds), then ES256 (information; at most 3 rounds).
 *
 * The database's backend processes (the connections of the ccgate server to its bench database) run
 * on this machine: their CPU time per request is measured from /proc and reported beside the
 * server's, and kept out of the noise indicator. After the servers stop, the bench checks that they
 * left no connection open (a clean close of the pool and of the listening connection).
 */
import type { SigningAlgorithm } from '../../lib';
import { startGuardServer, startTokenServer, type TokenServer } from '../lib/ccgate';
import { fmt, measureInterleaved, ratioRow, ROUNDS, type Measured, type ResultRow, type RunContext, type Scenario } from '../lib/common';
import type { ServerHandle } from '../lib/harness';
import { openConnections } from '../lib/postgres';
import { BACKEND_NAME, type Backend, type Seeded } from '../lib/seed';

const SERVER_CPU_NOTE = 'user + system CPU of the server process (all threads) per 2xx response, median round';
const DATABASE_CPU_NOTE = `${SERVER_CPU_NOTE}, plus that of the PostgreSQL backend processes connected to the bench database (from /proc)`;

/** "116 µs" or, with the database's share measured, "120 µs + database 3 µs". */
function cpuText(m: Measured): string {
  const server = `${fmt(m.cpuPerRequest ?? NaN)} µs`;
  return m.companionCpuPerRequest === undefined ? server : `${server} + database ${fmt(m.companionCpuPerRequest)} µs`;
}

const totalCpu = (m: Measured): number => (m.cpuPerRequest ?? NaN) + (m.companionCpuPerRequest ?? 0);

/** Stops the servers, then checks that each PostgreSQL one exited cleanly and left no connection to its database. */
async function stopAndCheck(ctx: RunContext, servers: Array<{ server: ServerHandle; seeded: Seeded }>): Promise<void> {
  await Promise.all(servers.map((s) => s.server.stop()));
  for (const { server, seeded } of servers) {
    if (seeded.database === undefined) continue;
    const left = await openConnections(seeded.database);
    const code = server.child.exitCode;
    if (left > 0 || code !== 0) ctx.log(`  note: ${server.name} stopped with exit code ${code}, ${left} connection(s) to its database still open`);
  }
}

export const postgresGuard: Scenario = {
  name: 'postgres-guard',
  title: 'PostgreSQL backend: local guard, cache hit (same RS256 token repeated), vs the bare route',
  needs: 'postgres',
  async run(ctx) {
    const pg = await startGuardServer('ccgate (PostgreSQL)', 'postgres', { bare: 'bare route (PostgreSQL server)', guard: 'local guard (PostgreSQL)' });
    try {
      const m = await measureInterleaved([pg.bare, pg.guard], ctx);
      const bare = m.get(pg.bare.label) as Measured;
      const guard = m.get(pg.guard.label) as Measured;
      const notes = `CPU per request: local guard ${cpuText(guard)}, bare route ${cpuText(bare)}`;
      return [
        ratioRow(this.name, 'PostgreSQL backend: local guard req/s, cache hit, vs bare', 'req/s', guard.rps, bare.rps, 'bare', { min: 0.9 }, notes),
        ratioRow(
          this.name,
          'PostgreSQL backend: local guard server CPU per request vs bare',
          'µs',
          guard.cpuPerRequest ?? NaN,
          bare.cpuPerRequest ?? NaN,
          'bare',
          null,
          SERVER_CPU_NOTE,
        ),
      ];
    } finally {
      await stopAndCheck(ctx, [pg]);
    }
  },
};

const BACKENDS: Backend[] = ['sqlite', 'postgres'];
/** RS256 carries the target: all rounds. ES256 is for information: at most three (the scenario's time budget). */
const ALGORITHMS: Array<{ alg: SigningAlgorithm; rounds: number; rule: { min: number } | null }> = [
  { alg: 'RS256', rounds: ROUNDS, rule: { min: 0.85 } },
  { alg: 'ES256', rounds: Math.min(ROUNDS, 3), rule: null },
];

export const postgresToken: Scenario = {
  name: 'postgres-token',
  title: 'PostgreSQL backend: token endpoint, repeat clients (4 clients, again and again), vs the SQLite backend',
  needs: 'postgres',
  async run(ctx) {
    const rows: ResultRow[] = [];
    for (const { alg, rounds, rule } of ALGORITHMS) {
      // One server per backend, the same code for both; measured against each other in interleaved rounds.
      const servers: TokenServer[] = [];
      try {
        for (const backend of BACKENDS) servers.push(await startTokenServer(`${alg} token, ${BACKEND_NAME[backend]}`, backend, alg));
        const [sqliteServer, pgServer] = servers;
        const m = await measureInterleaved([sqliteServer.target, pgServer.target], ctx, { rounds });
        const sqlite = m.get(sqliteServer.target.label) as Measured;
        const pg = m.get(pgServer.target.label) as Measured;
        const notes = `median of ${rounds} rounds; CPU per token: PostgreSQL ${cpuText(pg)}, SQLite ${cpuText(sqlite)}`;
        rows.push(
          ratioRow(this.name, `PostgreSQL backend: ${alg} tokens/s (repeat clients) vs SQLite`, 'tokens/s', pg.rps, sqlite.rps, 'SQLite', rule, notes),
          ratioRow(
            this.name,
            `PostgreSQL backend: ${alg} server CPU per token vs SQLite`,
            'µs',
            pg.cpuPerRequest ?? NaN,
            sqlite.cpuPerRequest ?? NaN,
            'SQLite',
            null,
            SERVER_CPU_NOTE,
          ),
          ratioRow(
            this.name,
            `PostgreSQL backend: ${alg} server + database CPU per token vs SQLite`,
            'µs',
            totalCpu(pg),
            totalCpu(sqlite),
            'SQLite',
            null,
            DATABASE_CPU_NOTE,
          ),
        );
      } finally {
        await stopAndCheck(ctx, servers);
      }
    }
    return rows;
  },
};
