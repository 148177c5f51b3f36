/**
 * 7. Memory: server RSS while 200,000 distinct tokens pass through the guard. The verified-token cache
 * is bounded (by entries and by bytes), so RSS must level off. Tokens are ES256 (ccgate option
 * algorithm: 'ES256'), minted by a separate process with the registry's key: 200k RS256 signatures
 * would take minutes on two cores, ES256 ones seconds. RSS is read from the server's /__stats route
 * (process.memoryUsage(), no forced GC) after 0 (warm-up only), 50k, 100k and 200k tokens.
 */
import { startCcgate } from '../lib/ccgate';
import { fmt, type ResultRow, type Scenario } from '../lib/common';
import { expect200, getJson, load } from '../lib/harness';
import { mintTokens } from '../lib/mint';
import { seedRegistry } from '../lib/seed';

const TOTAL = 200_000;
const CHECKPOINTS = [50_000, 100_000, 200_000];
const MB = 1024 * 1024;
const PIPELINING = 8;

export const memory: Scenario = {
  name: 'memory',
  title: 'Memory: server RSS while 200,000 distinct tokens pass the guard',
  async run(ctx) {
    const seeded = await seedRegistry({ clients: 4, algorithms: ['ES256'] });
    const count = TOTAL + 2_000; // slack: requests autocannon builds but never sends
    const tokens = await mintTokens(ctx, seeded, 'ES256', count);
    const server = await startCcgate('ccgate ES256', seeded, { algorithm: 'ES256' });
    try {
      let next = 0;
      const rss = async (): Promise<{ rss: number; heapUsed: number }> => getJson(`${server.url}/__stats`);
      await expect200(`${server.url}/guarded`, tokens[next++]);
      const start = await rss();
      const samples: Array<{ tokens: number; rss: number; heapUsed: number }> = [];
      let sent = 1;
      for (const checkpoint of CHECKPOINTS) {
        const r = await load({
          url: server.url,
          path: '/guarded',
          amount: checkpoint - sent,
          // Throughput is not measured here: pipelining only gets the 200k tokens through sooner.
          pipelining: PIPELINING,
          setup: (h) => void (h.authorization = `Bearer ${tokens[Math.min(next++, count - 1)]}`),
        });
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`guard refused tokens: ${JSON.stringify(r.statusCodes)}, ${r.errors} errors`);
        sent += r.ok;
        const m = await rss();
        samples.push({ tokens: checkpoint, rss: m.rss, heapUsed: m.heapUsed });
        ctx.log(`  after ${fmt(checkpoint)} tokens: RSS ${fmt(m.rss / MB, 1)} MB, heap used ${fmt(m.heapUsed / MB, 1)} MB (${fmt(r.rps)} req/s)`);
      }
      if (next > count) throw new Error('ran out of distinct tokens');
      const S = this.name;
      const rows: ResultRow[] = samples.map((s) => ({
        scenario: S,
        metric: `server RSS after ${fmt(s.tokens)} tokens`,
        unit: 'MB',
        value: s.rss / MB,
        baseline: start.rss / MB,
        baselineLabel: 'RSS after warm-up',
        ratio: s.rss / start.rss,
        target: null,
        met: null,
        notes: `heap used ${fmt(s.heapUsed / MB, 1)} MB`,
      }));
      const at100k = samples[1].rss / MB;
      const at200k = samples[2].rss / MB;
      rows.push({
        scenario: S,
        metric: 'RSS levels off: 200k tokens vs 100k',
        unit: 'MB',
        value: at200k,
        baseline: at100k,
        baselineLabel: 'RSS at 100k',
        ratio: at200k / at100k,
        target: '<= 1.10x RSS at 100k',
        met: at200k / at100k <= 1.1,
      });
      return rows;
    } finally {
      await server.stop();
    }
  },
};
