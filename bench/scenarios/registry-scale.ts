/**
 * 6. Scale of the registry: token issuance (4 repeat clients) and guard throughput (cached token) on a
 * registry of 100 clients / 10 revoked tokens against one of 100,000 clients / 100,000 revoked tokens.
 * Both registries are seeded before their server starts with direct SQL inserts through better-sqlite3
 * in one transaction (one shared cost-10 bcrypt hash; see lib/seed.ts); revocations are unexpired.
 */
import { startCcgate } from '../lib/ccgate';
import { fmt, measureInterleaved, ratioRow, type Measured, TOKEN_BODY, tokenEndpointSpec, type Scenario, type Target } from '../lib/common';
import { basicAuth, expect200, fetchToken, type ServerHandle } from '../lib/harness';
import { seedRegistry, type Seeded } from '../lib/seed';

export const registryScale: Scenario = {
  name: 'registry-scale',
  title: 'Registry scale: 100 clients / 10 revocations vs 100,000 / 100,000',
  async run(ctx) {
    const small = await seedRegistry({ clients: 100, revocations: 10 });
    const large = await seedRegistry({ clients: 100_000, revocations: 100_000 });
    ctx.log(`  seeded 100 clients + 10 revocations in ${small.seedSeconds.toFixed(1)} s, 100,000 + 100,000 in ${large.seedSeconds.toFixed(1)} s`);
    const start = (label: string, seed: Seeded): Promise<ServerHandle> => startCcgate(label, seed);
    const smallServer = await start('small registry', small);
    const largeServer = await start('large registry', large);
    try {
      const targets: Target[] = [];
      for (const [label, seed, server] of [
        ['100 clients', small, smallServer],
        ['100k clients', large, largeServer],
      ] as const) {
        // Clients from the middle of the table, not the first rows inserted.
        const mid = Math.floor(seed.clientIds.length / 2);
        const clients = seed.clientIds.slice(mid, mid + 4);
        // Repeat clients: each asks once, one at a time, before any load.
        const issued = [];
        for (const id of clients) issued.push(await fetchToken(`${server.url}/oauth/token`, id, seed.secret, TOKEN_BODY));
        const token = issued[0];
        await expect200(`${server.url}/guarded`, token);
        targets.push({
          label: `issue, ${label}`,
          stats: server.url,
          spec: tokenEndpointSpec(server.url, {
            variants: clients.map((id) => ({ headers: { authorization: basicAuth(id, seed.secret) } })),
          }),
        });
        targets.push({
          label: `guard, ${label}`,
          stats: server.url,
          spec: { url: server.url, path: '/guarded', headers: { authorization: `Bearer ${token}` } },
        });
      }
      const m = await measureInterleaved(targets, ctx);
      const rps = (label: string): number => (m.get(label) as Measured).rps;
      const cpu = (label: string): string => `${fmt(m.get(label)?.cpuPerRequest ?? NaN)} µs`;
      const note = (kind: string): string =>
        `large registry seeded by direct SQL in ${fmt(large.seedSeconds, 1)} s; server CPU per request: ${cpu(`${kind}, 100k clients`)} vs ${cpu(`${kind}, 100 clients`)}`;
      return [
        ratioRow(
          this.name,
          'token issuance, 100k clients vs 100',
          'tokens/s',
          rps('issue, 100k clients'),
          rps('issue, 100 clients'),
          '100 clients',
          { min: 0.9 },
          note('issue'),
        ),
        ratioRow(
          this.name,
          'guard, 100k clients + 100k revocations vs 100 + 10',
          'req/s',
          rps('guard, 100k clients'),
          rps('guard, 100 clients'),
          'small registry',
          { min: 0.9 },
          note('guard'),
        ),
      ];
    } finally {
      await Promise.all([smallServer.stop(), largeServer.stop()]);
    }
  },
};
