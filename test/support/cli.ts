/** The built CLI (dist/lib/cli/main.js: `npm run build` first), run as a child process. */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openRegistry, type Registry } from '../../lib';
import { CLI } from './constants';
import { assertBuilt, cleanEnv } from './processes';
import { tempDir } from './temp';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Prepends `--db <db> --bcrypt-cost 4`. */
  db?: string;
  /** Added to the environment (which never has the caller's CCGATE_* variables). */
  env?: Record<string, string>;
  /** Standard input (default: empty). */
  input?: string;
  /** Killed after this long (default 20 s sync, 30 s async). */
  timeoutMs?: number;
  /** Options for node itself, before the CLI's path (e.g. ['--require', FIXED_CLOCK]). */
  nodeArgs?: string[];
}

function cliArgs(args: string[], options: CliOptions): string[] {
  return [...(options.nodeArgs ?? []), CLI, ...(options.db === undefined ? [] : ['--db', options.db, '--bcrypt-cost', '4']), ...args];
}

/** Runs `ccgate ...args` and waits for it (spawnSync). */
export function runCli(args: string[], options: CliOptions = {}): CliResult {
  assertBuilt();
  const result = spawnSync(process.execPath, cliArgs(args, options), {
    env: { ...cleanEnv(), ...options.env },
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 20_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `ccgate ...args` asynchronously (many may run at once). */
export function runCliAsync(args: string[], options: CliOptions = {}): Promise<CliResult> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const proc = spawn(process.execPath, cliArgs(args, options), { env: { ...cleanEnv(), ...options.env }, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    proc.on('error', reject);
    proc.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    proc.stdin?.end(options.input);
  });
}

/** `ccgate --db <db> --json key rotate --lead <lead>`; returns the new key. */
export async function cliKeyRotate(db: string, lead: string): Promise<{ kid: string; status: string }> {
  const result = await runCliAsync(['--json', 'key', 'rotate', '--lead', lead], { db, timeoutMs: 20_000 });
  if (result.status !== 0) throw new Error(`ccgate key rotate exited ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout) as { kid: string; status: string };
}

/** A temp dir with a registry path in it for the CLI, removed by cleanup(). */
export interface TempCliDb {
  dir: string;
  db: string;
  /** Runs `ccgate --db <db> --bcrypt-cost 4 ...args`. */
  cli(args: string[], options?: Omit<CliOptions, 'db'>): CliResult;
  /** Like cli() with --json; expects exit 0 and parses stdout. */
  json<T = unknown>(args: string[], options?: Omit<CliOptions, 'db'>): T;
  /** Opens the same file in-process, runs fn, closes it. */
  withRegistry<T>(fn: (registry: Registry) => Promise<T>): Promise<T>;
  /** The file's rows as another process sees them (its own SQLite connection), for checks of what is stored. */
  withDatabase<T>(fn: (db: Database.Database) => T): T;
  cleanup(): void;
}

export function tempCliDb(): TempCliDb {
  const { dir, cleanup } = tempDir('ccgate-cli-');
  const db = join(dir, 'registry.db');
  const cli = (args: string[], options: Omit<CliOptions, 'db'> = {}) => runCli(args, { ...options, db });
  return {
    dir,
    db,
    cli,
    json<T>(args: string[], options?: Omit<CliOptions, 'db'>): T {
      const result = cli(['--json', ...args], options);
      if (result.status !== 0) throw new Error(`ccgate ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    },
    async withRegistry<T>(fn: (registry: Registry) => Promise<T>): Promise<T> {
      const registry = openRegistry(db, { bcryptCost: 4, pruneIntervalSeconds: 0 });
      try {
        return await fn(registry);
      } finally {
        await registry.close();
      }
    },
    withDatabase<T>(fn: (database: Database.Database) => T): T {
      const database = new Database(db);
      try {
        return fn(database);
      } finally {
        database.close();
      }
    },
    cleanup,
  };
}

// ---- JSON shapes the CLI prints ----

export interface ClientJson {
  client_id: string;
  name: string;
  type: 'confidential' | 'public';
  /** 'none' for a public client. */
  auth_method: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
  /** RFC 9449 §5.2: whether its token requests must carry a DPoP proof. */
  dpop: 'allowed' | 'required';
  enabled: boolean;
  groups: string[];
  scopes: string[];
  grant_types: string[];
  token_ttl: number | null;
  secrets: Array<{ id: number; created_at: number; expires_at: number | null }>;
  /** private_key_jwt: the registered public keys; null otherwise or with a jwks_uri. */
  jwks: { keys: Array<Record<string, string>> } | null;
  jwks_uri: string | null;
  created_at: number;
  updated_at: number;
}

export interface GroupJson {
  name: string;
  scopes: string[];
  client_count: number;
  created_at: number;
}

export interface CreatedJson {
  client_id: string;
  client_secret: string | null;
}

export interface ResourceJson {
  uri: string;
  scopes: string[];
  created_at: number;
  updated_at: number;
}
