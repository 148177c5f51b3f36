/**
 * Child processes for the fault tests: the fixture server (fixtures/server.js over dist/) and the
 * built CLI. Both need `npm run build` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CLI, SERVER_SCRIPT } from './support';

function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
}

/** The environment without the caller's CCGATE_* variables. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CCGATE_')) env[k] = v;
  env.NODE_ENV = 'test';
  return env;
}

export interface ChildServer {
  proc: ChildProcess;
  url: string;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<string>;
  stderr(): string;
  /** SIGKILL, and wait for the process to be gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful close), SIGKILL after 3 s. */
  stop(): Promise<void>;
}

/** Starts fixtures/server.js on `dbPath`; resolves once it listens. */
export async function startServer(dbPath: string, timeoutMs = 15_000): Promise<ChildServer> {
  assertBuilt();
  const proc = spawn(process.execPath, [SERVER_SCRIPT, dbPath], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<string>((resolve) => proc.on('exit', (code, signal) => resolve(signal ?? String(code))));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms: ${err}`)), timeoutMs);
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${how}) before listening: ${err}`));
    });
  });
  const server: ChildServer = {
    proc,
    url: `http://127.0.0.1:${port}`,
    exited,
    stderr: () => err,
    async kill9() {
      proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
  return server;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI asynchronously: `ccgate --db <db> --bcrypt-cost 4 ...args`. */
export function runCli(db: string, args: string[], timeoutMs = 30_000): Promise<CliRun> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, '--db', db, '--bcrypt-cost', '4', ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
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

export interface HttpAnswer {
  status: number;
  body: any;
}

/** fetch without keep-alive surprises: a fresh connection per call, a bounded wait. */
export async function http(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}, timeoutMs = 10_000): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { connection: 'close', ...init.headers },
    body: init.body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}

export const basicAuth = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export function requestToken(server: ChildServer, clientId: string, secret: string): Promise<HttpAnswer> {
  return http(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
}

export function revokeToken(server: ChildServer, clientId: string, secret: string, token: string): Promise<HttpAnswer> {
  return http(`${server.url}/oauth/revoke`, {
    method: 'POST',
    headers: { authorization: basicAuth(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${encodeURIComponent(token)}`,
  });
}

export function adminPost(server: ChildServer, path: string, body: object): Promise<HttpAnswer> {
  return http(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
