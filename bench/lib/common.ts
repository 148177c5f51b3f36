/** Shared constants, result rows and the interleaved, median-of-rounds measurement used by every scenario. */
import { FORM, load, machineCpu, serverCpuMicros, sleep, type LoadResult, type LoadSpec } from './harness';

export const ISSUER = 'https://issuer.bench.local';
export const AUDIENCE = 'https://api.bench.local';
export const SCOPE = 'reports:read';
export const TOKEN_BODY = 'grant_type=client_credentials&scope=reports%3Aread';

/**
 * Seconds of each measurement (BENCH_DURATION), the warm-up before a target's first round
 * (BENCH_WARMUP; later rounds re-warm for REWARMUP s) and interleaved rounds (BENCH_ROUNDS).
 */
export const DURATION = Number(process.env.BENCH_DURATION ?? 1.5);
export const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
export const REWARMUP = Math.min(WARMUP, 0.3);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

/** Load against a server's token endpoint with the usual form body; client credentials come in `extra`. */
export function tokenEndpointSpec(url: string, extra: Partial<LoadSpec> = {}): LoadSpec {
  return { url, path: '/oauth/token', method: 'POST', body: TOKEN_BODY, ...extra, headers: { 'content-type': FORM, ...extra.headers } };
}

export interface ResultRow {
  scenario: string;
  metric: string;
  unit: string;
  value: number;
  /** What the value is compared with, in the same unit (null: an absolute target or information only). */
  baseline: number | null;
  baselineLabel: string | null;
  /** value / baseline (for latency rows: value / baseline too, lower is better). */
  ratio: number | null;
  /** Human-readable target, e.g. ">= 0.90x bare". */
  target: string | null;
  /** null: information only, no target. */
  met: boolean | null;
  notes?: string;
}

export interface Scenario {
  name: string;
  title: string;
  /** A service the scenario cannot run without: when it does not answer, the run skips the scenario (with one line for all). */
  needs?: 'postgres';
  run(ctx: RunContext): Promise<ResultRow[]>;
}

/** Figures shared between scenarios of one run (e.g. the bcrypt-every-time rate). */
export interface RunContext {
  memo: Map<string, unknown>;
  log(message: string): void;
  /**
   * Share of the machine's CPU used by processes other than the bench (orchestrator) and the server
   * under test, one figure per measured run: the noise indicator printed per scenario.
   */
  foreignLoad: number[];
}

/**
 * Processes that work for the server under test (a database server's backends): their CPU time is
 * part of what a request costs, not machine noise.
 */
export interface CompanionCpu {
  /** What they are, for the log ("database"). */
  label: string;
  /** CPU time (user + system, µs) so far of each such process, by pid; null when it cannot be read. */
  sample(): Promise<Map<number, number> | null>;
}

/** CPU time used between two samples: a pid first seen in `after` started meanwhile, so all of its time counts. */
function companionMicros(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, micros] of after) sum += micros - (before.get(pid) ?? 0);
  return sum;
}

export interface Target {
  label: string;
  spec: LoadSpec;
  /** Base URL of a server with /__stats: also measure its CPU time per request. */
  stats?: string;
  /** With `stats`: also measure these processes' CPU time per request (and leave it out of the noise indicator). */
  companion?: CompanionCpu;
  /** Requests that cannot be repeated (single-use DPoP proofs), prepared before each of the target's runs: see RequestFeed. */
  feed?: RequestFeed;
  /**
   * Milliseconds to wait before each measured run: a run that ends closes its connections with
   * requests still in the server (slow ones: bcrypt checks queued per address); they finish first,
   * so the next run from the same address does not find the queue full of abandoned work.
   */
  settleMs?: number;
}

/**
 * What a target's per-request hook (LoadSpec.setup) hands out when no request may repeat: before each
 * of the target's runs, warm-ups included, measureInterleaved awaits `prepare` (untimed) with the run's
 * length and the target's highest 2xx rate so far (undefined before its first run); after a measured
 * run, `ranDry()` true says the run outran what was prepared (and made up for it during the run): that
 * run is measured again, at most twice.
 */
export interface RequestFeed {
  prepare(seconds: number, bestRps: number | undefined): Promise<void>;
  ranDry(): boolean;
}

export interface Measured {
  /** Median over the rounds of 2xx responses per second. */
  rps: number;
  all: LoadResult[];
  /** Median over the rounds of the server's CPU time (user + system, all threads) per 2xx response, in µs. */
  cpuPerRequest?: number;
  /** Median over the rounds of the companion processes' CPU time per 2xx response, in µs. */
  companionCpuPerRequest?: number;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Measures several targets in interleaved rounds (A B C, then B C A, ...), each run preceded by a
 * warm-up (WARMUP s before a target's first round, REWARMUP s before later ones), and reports each
 * target's median round. Interleaving spreads the machine's background noise over every side of a
 * comparison; the median keeps one lucky or one disturbed round from deciding the figure.
 */
export async function measureInterleaved(
  targets: Target[],
  ctx: RunContext,
  options: { rounds?: number; duration?: number; warmup?: number } = {},
): Promise<Map<string, Measured>> {
  const rounds = options.rounds ?? ROUNDS;
  const duration = options.duration ?? DURATION;
  const warmup = options.warmup ?? WARMUP;
  const results = new Map<string, LoadResult[]>();
  const cpus = new Map<string, number[]>();
  const companionCpus = new Map<string, number[]>();
  /** Per target with a feed: the highest 2xx rate of its runs so far, to size what it prepares. */
  const best = new Map<string, number>();
  const ran = (t: Target, r: LoadResult): void => {
    if (t.feed && Number.isFinite(r.rps)) best.set(t.label, Math.max(best.get(t.label) ?? 0, r.rps));
  };
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + round) % targets.length];
      const warm = round === 0 ? warmup : Math.min(warmup, REWARMUP);
      if (warm > 0) {
        await t.feed?.prepare(warm, best.get(t.label));
        ran(t, await load({ ...t.spec, duration: warm, amount: undefined }));
      }
      let measured: Awaited<ReturnType<typeof measuredRun>>;
      for (let attempt = 1; ; attempt++) {
        await t.feed?.prepare(duration, best.get(t.label));
        if (t.settleMs) await sleep(t.settleMs);
        measured = await measuredRun(t.spec, t.stats, ctx, { duration }, t.companion);
        ran(t, measured.result);
        if (!t.feed?.ranDry()) break;
        if (attempt === 3) throw new Error(`${t.label}: ran out of prepared requests in three attempts at round ${round + 1}`);
        ctx.log(`  ${t.label.padEnd(34)} round ${round + 1}: ran out of prepared requests at ${fmt(measured.result.rps)} req/s; measuring again`);
      }
      const { result: r, cpu, companionCpu, note } = measured;
      assertClean(t.label, r);
      ctx.log(`  ${t.label.padEnd(34)} round ${round + 1}: ${fmt(r.rps)} req/s (p99 ${r.p99.toFixed(1)} ms${note})`);
      results.set(t.label, [...(results.get(t.label) ?? []), r]);
      if (cpu !== undefined) cpus.set(t.label, [...(cpus.get(t.label) ?? []), cpu]);
      if (companionCpu !== undefined) companionCpus.set(t.label, [...(companionCpus.get(t.label) ?? []), companionCpu]);
    }
  }
  const out = new Map<string, Measured>();
  for (const [label, all] of results) {
    const cpu = cpus.get(label);
    const companion = companionCpus.get(label);
    out.set(label, {
      rps: median(all.map((r) => r.rps)),
      all,
      cpuPerRequest: cpu ? median(cpu) : undefined,
      companionCpuPerRequest: companion ? median(companion) : undefined,
    });
  }
  return out;
}

/**
 * One load run; with a stats URL also the server's CPU time per 2xx response (µs), its companion
 * processes' (if any), and the share of the machine used meanwhile by every other process (recorded
 * in ctx.foreignLoad). `note` describes them.
 */
export async function measuredRun(
  spec: LoadSpec,
  stats: string | undefined,
  ctx: RunContext,
  override: Partial<LoadSpec> = {},
  companion?: CompanionCpu,
): Promise<{ result: LoadResult; cpu?: number; companionCpu?: number; note: string }> {
  const cpuBefore = stats ? await serverCpuMicros(stats) : 0;
  const companionBefore = stats && companion ? await companion.sample() : null;
  const machineBefore = machineCpu();
  const selfBefore = process.cpuUsage();
  const result = await load({ ...spec, ...override });
  const self = process.cpuUsage(selfBefore);
  const machineAfter = machineCpu();
  if (!stats) return { result, note: '' };
  const companionAfter = companionBefore && companion ? await companion.sample() : null;
  const serverMicros = (await serverCpuMicros(stats)) - cpuBefore;
  const cpu = serverMicros / result.ok;
  let note = `, server CPU ${fmt(cpu)} µs/req`;
  let companionCpu: number | undefined;
  let companionTotal = 0;
  if (companion && companionBefore && companionAfter) {
    companionTotal = companionMicros(companionBefore, companionAfter);
    companionCpu = companionTotal / result.ok;
    note += `, ${companion.label} ${fmt(companionCpu)} µs/req`;
  }
  if (machineBefore && machineAfter) {
    const foreignMs = machineAfter.busyMs - machineBefore.busyMs - (serverMicros + companionTotal + self.user + self.system) / 1000;
    const share = Math.max(0, foreignMs / (machineAfter.totalMs - machineBefore.totalMs));
    ctx.foreignLoad.push(share);
    note += `, other processes ${fmt(share * 100)}% of the machine`;
  }
  return { result, cpu, companionCpu, note };
}

/** A throughput figure is only meaningful if every response was a success. */
export function assertClean(label: string, r: LoadResult): void {
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0 || r.ok === 0) {
    throw new Error(`${label}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts (status codes ${JSON.stringify(r.statusCodes)})`);
  }
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** A row comparing value with a baseline: met when value/baseline >= min (or <= max). */
export function ratioRow(
  scenario: string,
  metric: string,
  unit: string,
  value: number,
  baseline: number,
  baselineLabel: string,
  rule: { min?: number; max?: number } | null,
  notes?: string,
): ResultRow {
  const ratio = value / baseline;
  let target: string | null = null;
  let met: boolean | null = null;
  if (rule?.min !== undefined) {
    target = `>= ${rule.min}x ${baselineLabel}`;
    met = ratio >= rule.min;
  } else if (rule?.max !== undefined) {
    target = `<= ${rule.max}x ${baselineLabel}`;
    met = ratio <= rule.max;
  }
  return { scenario, metric, unit, value, baseline, baselineLabel, ratio, target, met, notes };
}
