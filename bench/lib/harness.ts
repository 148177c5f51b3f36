/**
 * Bench harness: starts each server under test as its own child process (it prints {"port":N} as one
 * JSON line on stdout) and drives load from this process with autocannon's programmatic API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';

/** The repository root (the folder holding package.json "ccgate"), from dist/bench/... or bench/... */
export const REPO_ROOT = ((): string => {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'ccgate') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the ccgate repository root');
    dir = up;
  }
})();

/** A compiled bench server (dist/bench/servers/<name>.js). */
export const compiledServer = (name: string): string => path.join(REPO_ROOT, 'dist', 'bench', 'servers', `${name}.js`);
/** A plain .mjs bench server, run from the source folder (tsc does not emit .mjs). */
export const sourceServer = (file: string): string => path.join(REPO_ROOT, 'bench', 'servers', file);

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let interrupted = false;

/** After Ctrl-C: nothing new starts (servers, databases), while cleanupAll() takes down what runs. */
export function interruptRun(): void {
  interrupted = true;
}

/** Throws once the run is interrupted. */
export function assertNotInterrupted(what: string): void {
  if (interrupted) throw new Error(`interrupted: not starting ${what}`);
}

/** A fresh temp directory, removed by cleanupAll(). */
export function tempDir(prefix = 'ccgate-bench-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export interface ServerHandle {
  name: string;
  port: number;
  url: string;
  child: ChildProcess;
  /** Everything the child wrote on stderr so far (for diagnostics). */
  stderr(): string;
  stop(): Promise<void>;
}

/** Child environment: NODE_ENV unset so no server switches to production behaviour (https-only etc.). */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_ENV;
  return env;
}

/**
 * BENCH_CPU_PROF=<dir>: every server under test runs with `node --cpu-prof` and writes a .cpuprofile
 * there when it stops (open it in Chrome DevTools or speedscope). Adds profiling overhead to the figures.
 */
function profileArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`] : [];
}

/** Starts `node script '<config json>'` and waits for its {"port":N} line. */
export function startServer(name: string, script: string, config: unknown, timeoutMs = 60_000): Promise<ServerHandle> {
  assertNotInterrupted(name);
  const child = spawn(process.execPath, [...profileArgs(), script, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  children.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle = (port: number): ServerHandle => ({
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // A profiled server writes its profile on the way out.
      await Promise.race([exited, sleep(process.env.BENCH_CPU_PROF ? 15_000 : 3000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      children.delete(child);
    },
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => fail(new Error(`${name}: no port within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n--- ${name} stderr ---\n${stderr}`));
    };
    const early = (code: number | null, signal: NodeJS.Signals | null): void => fail(new Error(`${name} exited early (code ${code}, signal ${signal})`));
    child.once('exit', early);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          const msg = JSON.parse(line) as { port?: number };
          if (typeof msg.port === 'number') {
            clearTimeout(timer);
            // Only this listener: stop() waits for the exit through its own.
            child.off('exit', early);
            resolve(handle(msg.port));
          }
        } catch {
          // not our line
        }
      }
    });
  });
}

/** Runs a script to completion (e.g. the token minter); resolves with its last stdout JSON line. */
export function runChild(name: string, script: string, config: unknown): Promise<Record<string, unknown>> {
  assertNotInterrupted(name);
  const child = spawn(process.execPath, [script, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-20_000)));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      children.delete(child);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${name} exited with ${code}\n${stderr}`));
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`${name}: no JSON result\n${stdout}\n${stderr}`));
      }
    });
  });
}

const cleanups: Array<{ name: string; task: () => Promise<void> }> = [];

/** Runs `task` at the next cleanupAll(), after the children are killed (e.g. dropping a bench database). */
export function onCleanup(name: string, task: () => Promise<void>): void {
  cleanups.push({ name, task });
}

/**
 * Kills every child still running, removes the temp dirs, then runs the registered cleanups (last
 * registered first); a failing cleanup is reported on stderr and does not stop the others.
 */
export async function cleanupAll(): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
  // Until none is left: a scenario still running may register one meanwhile.
  while (cleanups.length > 0) {
    const { name, task } = cleanups.pop() as (typeof cleanups)[number];
    await task().catch((err: unknown) => console.error(`  cleanup of ${name} failed: ${err instanceof Error ? err.message : String(err)}`));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- load generation

export interface LoadSpec {
  /** Base URL of the server, e.g. http://127.0.0.1:1234 */
  url: string;
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
  /** Seconds (ignored when amount is set). */
  duration?: number;
  /** Exact number of requests, then stop. */
  amount?: number;
  /** Requests per second over all connections (paced load, for latency measurements). */
  overallRate?: number;
  /** HTTP/1.1 pipelining depth (default 1). */
  pipelining?: number;
  /** Called for every request built: a different header per request (tokens, clients). */
  setup?: (headers: Record<string, string>) => void;
  /** Rotates through several fixed requests (e.g. a few clients' Basic headers). */
  variants?: Array<{ headers: Record<string, string> }>;
  /** Record every response time (ms, float) for exact percentiles. */
  recordLatencies?: boolean;
}

export interface LoadResult {
  /** 2xx responses per second of wall time. */
  rps: number;
  ok: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  statusCodes: Record<string, number>;
  /** Exact percentiles of 2xx response times (ms) when recordLatencies, else autocannon's (1 ms resolution). */
  p50: number;
  p99: number;
}

type AcRequest = autocannon.Request;

export function load(spec: LoadSpec): Promise<LoadResult> {
  const base: AcRequest = {
    method: spec.method ?? 'GET',
    path: spec.path,
    headers: spec.headers ?? {},
    body: spec.body,
  };
  let requests: AcRequest[];
  if (spec.variants) {
    requests = spec.variants.map((v) => ({ ...base, headers: { ...base.headers, ...v.headers } }));
  } else if (spec.setup) {
    const setup = spec.setup;
    requests = [
      {
        ...base,
        setupRequest: (req: AcRequest) => {
          const headers = { ...(req.headers as Record<string, string>) };
          setup(headers);
          return { ...req, headers };
        },
      },
    ];
  } else {
    requests = [base];
  }
  const latencies: number[] = [];
  // Our own clock and count: autocannon only closes a run on a sampling tick, so with `amount` its
  // duration is rounded up to whole ticks.
  let startedAt = 0;
  let lastResponseAt = 0;
  let okCount = 0;
  return new Promise((resolve, reject) => {
    const opts: autocannon.Options = {
      url: spec.url,
      connections: spec.connections ?? 10,
      requests,
      timeout: 20,
      // autocannon ends a run on its next sampling tick: 100 ms instead of 1 s wastes less wall time.
      // (Rates and counts come from our own clock and response count, not from its samples.)
      sampleInt: 100,
    };
    if (spec.amount !== undefined) opts.amount = spec.amount;
    else opts.duration = spec.duration ?? 3;
    if (spec.overallRate !== undefined) opts.overallRate = spec.overallRate;
    if (spec.pipelining !== undefined) opts.pipelining = spec.pipelining;
    const instance = autocannon(opts, (err: unknown, result: autocannon.Result) => {
      if (err) return reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
      const r = result;
      const statusCodes: Record<string, number> = {};
      const stats = (r as unknown as { statusCodeStats?: Record<string, { count?: number }> }).statusCodeStats ?? {};
      for (const [code, s] of Object.entries(stats)) statusCodes[code] = s.count ?? 0;
      const ok = okCount;
      const seconds = (lastResponseAt - startedAt) / 1000;
      let p50 = r.latency.p50;
      let p99 = r.latency.p99;
      if (spec.recordLatencies && latencies.length > 0) {
        latencies.sort((a, b) => a - b);
        p50 = percentile(latencies, 0.5);
        p99 = percentile(latencies, 0.99);
      }
      resolve({
        rps: ok / seconds,
        ok,
        total: ok + r.non2xx,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        seconds,
        statusCodes,
        p50,
        p99,
      });
    });
    const events = instance as unknown as NodeJS.EventEmitter;
    startedAt = performance.now();
    const record = spec.recordLatencies === true;
    events.on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
      lastResponseAt = performance.now();
      if (statusCode >= 200 && statusCode < 300) {
        okCount++;
        if (record) latencies.push(ms);
      }
    });
  });
}

export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx];
}

// ---------------------------------------------------------------- HTTP helpers

export const basicAuth = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export const FORM = 'application/x-www-form-urlencoded';

/** One token from a token endpoint (client_secret_basic), checked. */
export async function fetchToken(tokenUrl: string, clientId: string, secret: string, body = 'grant_type=client_credentials'): Promise<string> {
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { authorization: basicAuth(clientId, secret), 'content-type': FORM },
    body,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token request to ${tokenUrl} failed: ${res.status} ${text}`);
  const token = (JSON.parse(text) as { access_token?: string }).access_token;
  if (!token) throw new Error(`no access_token from ${tokenUrl}: ${text}`);
  return token;
}

/** The decoded JOSE header of a compact JWT. */
export function jwtHeader(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** GET with a bearer token; throws unless 200. */
export async function expect200(url: string, token?: string): Promise<void> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text}`);
}

/** Machine-wide CPU time from /proc/stat (Linux), in ms: busy (incl. steal) and total; null elsewhere. */
export function machineCpu(): { busyMs: number; totalMs: number } | null {
  if (!existsSync('/proc/stat')) return null;
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number); // user nice system idle iowait irq softirq steal
  const tick = 10; // USER_HZ = 100 on Linux
  const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
  const total = busy + f[3] + f[4];
  return { busyMs: busy * tick, totalMs: total * tick };
}

/** Total CPU time (user + system, all threads) the server process has used, in microseconds. */
export async function serverCpuMicros(baseUrl: string): Promise<number> {
  const stats = await getJson<{ cpu: { user: number; system: number } }>(`${baseUrl}/__stats`);
  return stats.cpu.user + stats.cpu.system;
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

/**
 * CPU time (user + system, µs) of each of `pids` whose /proc/<pid>/stat names the command `comm`
 * (Linux; others, and processes gone or not matching, are left out). The command check keeps a pid
 * that means something else here (a database server on another machine) out of the figure.
 */
export function processCpuMicros(pids: number[], comm: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== comm) continue;
    const fields = stat.slice(close + 2).split(' '); // from field 3 (state) on: utime is field 14, stime 15
    out.set(pid, (Number(fields[11]) + Number(fields[12])) * 10_000); // USER_HZ = 100
  }
  return out;
}
