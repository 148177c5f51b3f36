/**
 * ccgate benchmark suite (issue 5). `npm run bench` builds and runs every scenario; pass names (or
 * parts of names) to run a subset: `npm run bench -- guard`, `npm run bench -- token-cold memory`.
 * Each scenario starts its servers as separate child processes and drives them with autocannon from
 * this process. Prints a table and writes bench/results/latest.json.
 *
 * Knobs (environment): BENCH_DURATION (s per measurement, default 1.5), BENCH_WARMUP (s, default 1),
 * BENCH_ROUNDS (interleaved rounds, median reported, default 5; token-cold, guard-first-sight and
 * guard-dpop-first-sight use at most 3, guard-flood at most 2, postgres-token's ES256 pair at most 3), BENCH_PG_URL (the PostgreSQL server of the postgres-* scenarios,
 * default postgres://127.0.0.1:5432/postgres; they are skipped when it does not answer), BENCH_CPU_PROF
 * (a folder: servers under test run with node --cpu-prof and write their profiles there).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DURATION, fmt, median, ROUNDS, WARMUP, type ResultRow, type RunContext, type Scenario } from './lib/common';
import { cleanupAll, interruptRun, REPO_ROOT } from './lib/harness';
import { postgresProblem } from './lib/postgres';
import { guardDpop, guardDpopFirstSight } from './scenarios/guard-dpop';
import { guardFirstSight } from './scenarios/guard-first-sight';
import { guardFlood } from './scenarios/guard-flood';
import { guardOverhead } from './scenarios/guard-overhead';
import { memory } from './scenarios/memory';
import { postgresGuard, postgresToken } from './scenarios/postgres';
import { registryScale } from './scenarios/registry-scale';
import { tokenCold, tokenRepeat } from './scenarios/token';

/** In run order: token-cold before token-repeat, whose bcrypt-every-time baseline it measures. */
const SCENARIOS: Scenario[] = [
  guardOverhead,
  tokenCold,
  tokenRepeat,
  guardFirstSight,
  guardDpop,
  guardDpopFirstSight,
  guardFlood,
  registryScale,
  memory,
  postgresGuard,
  postgresToken,
];

/** The selected scenarios whose service answers, and one line about those skipped (null: none). */
async function available(scenarios: Scenario[]): Promise<{ run: Scenario[]; skipped: Array<{ name: string; reason: string }>; line: string | null }> {
  const needy = scenarios.filter((s) => s.needs === 'postgres');
  const problem = needy.length > 0 ? await postgresProblem() : null;
  if (problem === null) return { run: scenarios, skipped: [], line: null };
  return {
    run: scenarios.filter((s) => s.needs !== 'postgres'),
    skipped: needy.map((s) => ({ name: s.name, reason: problem })),
    line: `Skipping ${needy.map((s) => s.name).join(', ')}: ${problem}. Set BENCH_PG_URL to a PostgreSQL server the bench may create databases on.`,
  };
}

function select(args: string[]): Scenario[] {
  const wanted = args.filter((a) => !a.startsWith('-'));
  if (wanted.length === 0) return SCENARIOS;
  const chosen = SCENARIOS.filter((s) => wanted.some((w) => s.name === w || s.name.includes(w)));
  if (chosen.length === 0) {
    console.error(`No scenario matches ${wanted.join(', ')}. Scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  return chosen;
}

function formatValue(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return '-';
  if (unit === 'ms') return `${fmt(v, 2)} ms`;
  if (unit === 'µs') return `${fmt(v)} µs`;
  if (unit === 'MB') return `${fmt(v, 1)} MB`;
  return `${fmt(v, v < 100 ? 1 : 0)} ${unit}`;
}

function table(rows: ResultRow[]): string {
  const header = ['scenario', 'metric', 'value', 'baseline', 'ratio', 'target', 'met'];
  const lines = rows.map((r) => [
    r.scenario,
    r.metric,
    formatValue(r.value, r.unit),
    r.baseline === null ? '-' : `${formatValue(r.baseline, r.unit)}${r.baselineLabel ? ` (${r.baselineLabel})` : ''}`,
    r.ratio === null ? '-' : `${fmt(r.ratio, 2)}x`,
    r.target ?? '(info)',
    r.met === null ? '' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join(' | ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...lines.map(line)].join('\n');
}

async function main(): Promise<void> {
  // Keeps the orchestrator alive to the end: without it, a wait on nothing but unref'd handles (closing
  // a PostgreSQL registry) would end the process there, silently, without the table or the cleanup.
  const alive = setInterval(() => undefined, 60_000);
  const started = Date.now();
  const { run: scenarios, skipped, line: skippedLine } = await available(select(process.argv.slice(2)));
  const ctx: RunContext = { memo: new Map(), log: (m) => console.log(m), foreignLoad: [] };
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    availableParallelism: os.availableParallelism(),
    totalMemoryMB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
  console.log(`ccgate bench: ${scenarios.map((s) => s.name).join(', ')}`);
  console.log(
    `${machine.cpus} x ${machine.cpuModel}, node ${machine.node}; ${DURATION} s per measurement, ${WARMUP} s warm-up, median of ${ROUNDS} interleaved rounds\n`,
  );
  if (skippedLine) console.log(`${skippedLine}\n`);
  const rows: ResultRow[] = [];
  const timings: Record<string, number> = {};
  const loads: Record<string, [number, number]> = {};
  const foreign: Record<string, number | null> = {};
  for (const scenario of scenarios) {
    const t0 = Date.now();
    const loadBefore = os.loadavg()[0];
    ctx.foreignLoad = [];
    console.log(`== ${scenario.name}: ${scenario.title} (1-min load average ${loadBefore.toFixed(1)})`);
    try {
      rows.push(...(await scenario.run(ctx)));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      console.error(`  FAILED: ${message}`);
      rows.push({
        scenario: scenario.name,
        metric: 'scenario failed',
        unit: '',
        value: NaN,
        baseline: null,
        baselineLabel: null,
        ratio: null,
        target: 'completes',
        met: false,
        notes: message.slice(0, 2000),
      });
    } finally {
      await cleanupAll();
    }
    timings[scenario.name] = (Date.now() - t0) / 1000;
    loads[scenario.name] = [loadBefore, os.loadavg()[0]];
    foreign[scenario.name] = ctx.foreignLoad.length > 0 ? median(ctx.foreignLoad) : null;
    const other =
      foreign[scenario.name] === null ? '' : `; other processes used a median ${fmt((foreign[scenario.name] as number) * 100)}% of the machine during its runs`;
    console.log(`   (${timings[scenario.name].toFixed(1)} s; load average ${os.loadavg()[0].toFixed(1)} at the end${other})\n`);
  }
  const totalSeconds = (Date.now() - started) / 1000;
  console.log(table(rows));
  for (const r of rows.filter((x) => x.notes)) console.log(`  note [${r.scenario} / ${r.metric}]: ${r.notes}`);
  const missed = rows.filter((r) => r.met === false).length;
  const judged = rows.filter((r) => r.met !== null).length;
  console.log(`\n${judged - missed}/${judged} targets met; total ${totalSeconds.toFixed(0)} s`);

  const outDir = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const report = {
    date: new Date().toISOString(),
    machine,
    settings: { durationSeconds: DURATION, warmupSeconds: WARMUP, rounds: ROUNDS, selection: 'median round per target, rounds interleaved' },
    // 1-min load average of the machine before and after each scenario (other processes included).
    // otherProcessesCpuShare: median share of the machine's CPU used, during the scenario's measured runs,
    // by processes other than the orchestrator and the server under test (Linux /proc/stat).
    scenarios: scenarios.map((s) => ({
      name: s.name,
      title: s.title,
      seconds: timings[s.name],
      loadAverage: loads[s.name],
      otherProcessesCpuShare: foreign[s.name],
    })),
    skipped,
    totalSeconds,
    results: rows.map((r) => ({ ...r, value: Number.isFinite(r.value) ? r.value : null })),
  };
  writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  clearInterval(alive);
  console.log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'latest.json')) || 'bench/results/latest.json'}`);
}

/**
 * Ctrl-C (or SIGTERM): kill the servers, drop the bench databases, exit. One Ctrl-C often arrives twice
 * (from the terminal, and forwarded by npm): a second signal exits at once only a second after the first.
 */
let interruptedAt: number | undefined;
function interrupt(signal: NodeJS.Signals): void {
  if (interruptedAt !== undefined) {
    if (Date.now() - interruptedAt > 1000) process.exit(130);
    return;
  }
  interruptedAt = Date.now();
  interruptRun();
  console.error(`\n${signal}: stopping the servers and dropping the bench databases`);
  const force = setTimeout(() => process.exit(130), 10_000);
  void cleanupAll().finally(() => {
    clearTimeout(force);
    process.exit(130);
  });
}
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);

main().catch(async (err: unknown) => {
  console.error(err);
  await cleanupAll();
  process.exit(1);
});
