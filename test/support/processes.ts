/**
 * Child processes: node scripts over the BUILT package (`npm run build` first), the fixture server
 * (fixtures/server.js) with requests to it, and a bounded pool for running many at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CLI, SERVER_SCRIPT } from './constants';
import { httpRequest, type Reply } from './http';
import { postForm } from './oauth';

/** Throws the usual advice when `path` (something under dist/) is not built. */
export function assertBuilt(path = CLI): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: run "npm run build" first (npm test does).`);
}

/**
 * The environment without the caller's CCGATE_* variables, NODE_ENV=test. Without
 * NODE_EXTRA_CA_CERTS too, unless the test database is reached over TLS: the children speak TLS to
 * nobody else, and reading a CA bundle costs each of them some 0.1 s at startup.
 */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CCGATE_')) env[k] = v;
  if (!/ssl/i.test(process.env.CCGATE_TEST_PG_URL ?? '')) delete env.NODE_EXTRA_CA_CERTS;
  env.NODE_ENV = 'test';
  return env;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Spawned {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once the process is gone. */
  exited: Promise<Exit>;
  /** Whether the process is still running. */
  running(): boolean;
}

/** `node <script> ...args` with stdout and stderr collected. */
export function spawnNode(script: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string }): Spawned {
  assertBuilt(script);
  const proc = spawn(process.execPath, [script, ...args], { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return { proc, stdout: () => out, stderr: () => err, exited, running: () => proc.exitCode === null && proc.signalCode === null };
}

/** Polls the child's stdout until it matches `pattern`; rejects when the child exits first or after `timeoutMs`. */
export function waitForOutput(child: Spawned, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const match = child.stdout().match(pattern);
      if (match) {
        clearInterval(poll);
        resolve(match);
      } else if (!child.running() || Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`the child did not print ${pattern}\n--- stdout\n${child.stdout()}\n--- stderr\n${child.stderr()}`));
      }
    }, 25);
  });
}

/** The fixture server (fixtures/server.js) as a child process, with requests to it on fresh connections. */
export interface ChildServer extends Spawned {
  url: string;
  /** Its token router, `${url}/oauth`. */
  endpoints: string;
  /** SIGKILL, and wait for the process to be gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful close), SIGKILL after 3 s. */
  stop(): Promise<void>;
  /** A client_credentials token request (client_secret_basic), with `extra` form parameters (scope). */
  tokenRequest(clientId: string, clientSecret: string, extra?: Record<string, string>): Promise<Reply>;
  /** An RFC 7009 revocation, authenticated as the token's client. */
  revoke(clientId: string, clientSecret: string, token: string): Promise<Reply>;
  /** A test-only admin write (POST /admin/..., JSON; see fixtures/server.js). */
  adminPost(path: string, body?: object): Promise<Reply>;
  /** GET `path` with these headers. */
  get(path: string, headers?: Record<string, string>): Promise<Reply>;
}

export interface ChildServerOptions {
  /**
   * ccgate() options replacing the fixture's defaults (JSON: throttle, postgres, issuer, ...), passed
   * in CCGATE_FIXTURE_OPTIONS.
   */
  options?: Record<string, unknown>;
  /** How long it may take to listen (default 15 s). */
  timeoutMs?: number;
}

/** Starts fixtures/server.js on `db` (a SQLite path or a postgres:// URL); resolves once it listens. */
export async function startChildServer(db: string, { options, timeoutMs = 15_000 }: ChildServerOptions = {}): Promise<ChildServer> {
  assertBuilt();
  const env = cleanEnv();
  if (options !== undefined) env.CCGATE_FIXTURE_OPTIONS = JSON.stringify(options);
  const child = spawnNode(SERVER_SCRIPT, [db], { env });
  let match: RegExpMatchArray;
  try {
    match = await waitForOutput(child, /LISTENING (\d+)/, timeoutMs);
  } catch (err) {
    child.proc.kill('SIGKILL');
    throw err;
  }
  const url = `http://127.0.0.1:${match[1]}`;
  const endpoints = `${url}/oauth`;
  const fresh = { fresh: true };
  return {
    ...child,
    url,
    endpoints,
    async kill9() {
      child.proc.kill('SIGKILL');
      await child.exited;
    },
    async stop() {
      if (!child.running()) return;
      child.proc.kill('SIGTERM');
      const timer = setTimeout(() => child.proc.kill('SIGKILL'), 3000);
      await child.exited;
      clearTimeout(timer);
    },
    tokenRequest: (clientId, clientSecret, extra = {}) =>
      postForm(`${endpoints}/token`, { clientId, clientSecret }, { grant_type: 'client_credentials', ...extra }, fresh),
    revoke: (clientId, clientSecret, token) => postForm(`${endpoints}/revoke`, { clientId, clientSecret }, { token }, fresh),
    adminPost: (path, body = {}) =>
      httpRequest(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, fresh),
    get: (path, headers = {}) => httpRequest(`${url}${path}`, { headers }, fresh),
  };
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
