import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteRegistry } from '../../lib/registry';

/** The BUILT cli: run `npm run build` first. */
export const CLI = join(__dirname, '..', '..', 'dist', 'lib', 'cli', 'main.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  input?: string;
}

/** Runs the CLI with exactly `args`, in an environment without the caller's CCGATE_* variables. */
export function run(args: string[], options: RunOptions = {}): CliResult {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CCGATE_')) env[k] = v;
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...env, ...options.env },
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A temp dir with a registry path in it, removed by cleanup(). */
export interface TempDb {
  dir: string;
  db: string;
  /** Runs `ccgate --db <db> --bcrypt-cost 4 ...args`. */
  cli(args: string[], options?: RunOptions): CliResult;
  /** Like cli() with --json; expects exit 0 and parses stdout. */
  json<T = unknown>(args: string[], options?: RunOptions): T;
  /** Opens the same file in-process, runs fn, closes it. */
  withRegistry<T>(fn: (registry: SqliteRegistry) => Promise<T>): Promise<T>;
  cleanup(): void;
}

export function tempDb(): TempDb {
  const dir = mkdtempSync(join(tmpdir(), 'ccgate-cli-'));
  const db = join(dir, 'registry.db');
  const cli = (args: string[], options?: RunOptions) => run(['--db', db, '--bcrypt-cost', '4', ...args], options);
  return {
    dir,
    db,
    cli,
    json<T>(args: string[], options?: RunOptions): T {
      const result = cli(['--json', ...args], options);
      if (result.status !== 0) throw new Error(`ccgate ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
      return JSON.parse(result.stdout) as T;
    },
    async withRegistry<T>(fn: (registry: SqliteRegistry) => Promise<T>): Promise<T> {
      const registry = new SqliteRegistry(db, { bcryptCost: 4 });
      try {
        return await fn(registry);
      } finally {
        await registry.close();
      }
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** An unsigned JWT-shaped string with this payload (the CLI decodes without verifying). */
export function fakeJwt(payload: object): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'at+jwt', kid: 'k1' })}.${part(payload)}.c2lnbmF0dXJl`;
}

/** JSON shapes the CLI prints. */
export interface ClientJson {
  client_id: string;
  name: string;
  type: 'confidential' | 'public';
  enabled: boolean;
  groups: string[];
  scopes: string[];
  grant_types: string[];
  token_ttl: number | null;
  secrets: Array<{ id: number; created_at: number; expires_at: number | null }>;
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
