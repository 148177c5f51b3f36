import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, ConfigurationError, RegistryError, usageError } from '../errors';
import { SqliteRegistry, type RegistryStore } from '../registry';
import { Output } from './output';

/** The program-wide options (see main.ts), read from any subcommand. */
export interface GlobalOptions {
  db?: string;
  bcryptCost: number;
  json?: boolean;
}

export interface Context {
  registry: RegistryStore;
  out: Output;
}

export interface RegistryUse {
  /** The command may create the database file (it adds something); read-only commands refuse a missing file. */
  mayCreate?: boolean;
}

/** Opens the registry named by the global options, runs `fn`, and always closes the registry. */
export async function withRegistry(cmd: Command, fn: (ctx: Context) => Promise<void>, use: RegistryUse = {}): Promise<void> {
  const options = cmd.optsWithGlobals<GlobalOptions>();
  const path = options.db;
  if (path === undefined || path === '') throw usageError('no registry database: pass --db PATH or set CCGATE_DB');
  if (!use.mayCreate && !existsSync(path)) throw new CliError(`registry database "${path}" does not exist`);
  let registry: SqliteRegistry;
  try {
    registry = new SqliteRegistry(path, { bcryptCost: options.bcryptCost });
  } catch (err) {
    if (err instanceof RegistryError || err instanceof ConfigurationError) throw err;
    throw new CliError(`cannot open registry database "${path}": ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    await fn({ registry, out: new Output(options.json === true) });
  } finally {
    await registry.close();
  }
}
