import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, ConfigurationError, KeyProtectionError, RegistryError, RegistryUnavailableError, usageError } from '../errors';
import { isPostgresUrl, keySecretsFromEnv, openRegistry, redactedDb, type Registry } from '../registry';
import { Output } from './output';

/** The program-wide options (see main.ts), read from any subcommand. */
export interface GlobalOptions {
  db?: string;
  bcryptCost: number;
  json?: boolean;
}

export interface Context {
  registry: Registry;
  out: Output;
}

export interface RegistryUse {
  /** The command may create the database file (it adds something); read-only commands refuse a missing file. */
  mayCreate?: boolean;
}

/** The CLI takes key secrets from the environment only: a refused one is named by its variable. */
const KEY_SECRET_VARIABLES: Record<string, string> = { keySecret: 'CCGATE_KEY_SECRET', previousKeySecrets: 'CCGATE_KEY_SECRETS_PREVIOUS' };

function openFailure(db: string, err: unknown): Error {
  const variable = err instanceof ConfigurationError ? KEY_SECRET_VARIABLES[err.option] : undefined;
  if (variable !== undefined) return new CliError(`${variable}: ${(err as Error).message}`);
  if (err instanceof RegistryError || err instanceof ConfigurationError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  if (err instanceof RegistryUnavailableError) return new CliError(`registry database "${redactedDb(db)}" is unavailable: ${reason}`);
  return new CliError(`cannot open registry database "${redactedDb(db)}": ${reason}`);
}

/** Opens the registry named by the global options (a SQLite file or a postgres:// URL), runs `fn`, and always closes it. */
export async function withRegistry(cmd: Command, fn: (ctx: Context) => Promise<void>, use: RegistryUse = {}): Promise<void> {
  const options = cmd.optsWithGlobals<GlobalOptions>();
  const db = options.db;
  if (db === undefined || db === '') throw usageError('no registry database: pass --db PATH or URL, or set CCGATE_DB');
  if (!isPostgresUrl(db) && !use.mayCreate && !existsSync(db)) throw new CliError(`registry database "${db}" does not exist`);
  let registry: Registry;
  try {
    // No prune timer: the CLI lives for one command. Key secrets only from the environment: never on a command line.
    registry = openRegistry(db, { bcryptCost: options.bcryptCost, pruneIntervalSeconds: 0, ...keySecretsFromEnv() });
  } catch (err) {
    throw openFailure(db, err);
  }
  try {
    await registry.ready().catch((err: unknown) => {
      throw openFailure(db, err);
    });
    await fn({ registry, out: new Output(options.json === true) });
  } catch (err) {
    if (err instanceof RegistryUnavailableError) throw openFailure(db, err);
    if (err instanceof KeyProtectionError) throw new CliError(err.message);
    throw err;
  } finally {
    await registry.close();
  }
}
