/**
 * The sample app's key secret (CCGATE_KEY_SECRET): ccgate encrypts its private signing keys under it.
 * So that `npm install && npm start` stays two commands, the sample makes one on its first start and
 * keeps it in a file readable by its owner only (0600) beside a SQLite registry. That suits a demo on
 * one machine; a real deployment keeps the secret in its secret store, not next to the registry.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isPostgresUrl } from '../lib';
import { defaultDbPath } from './app';

export interface SampleKeySecret {
  secret: string;
  /** The file it was read from or written to; undefined when it came from CCGATE_KEY_SECRET. */
  file?: string;
  /** True when this start created the file. */
  created: boolean;
}

/** Where the sample keeps its secret: beside a SQLite registry, else beside the default one. */
export function keySecretFile(db: string): string {
  return isPostgresUrl(db) ? path.join(path.dirname(defaultDbPath()), 'ccgate.key-secret') : `${db}.key-secret`;
}

function readSecret(file: string): string | undefined {
  try {
    const secret = readFileSync(file, 'utf8').trim();
    return secret === '' ? undefined : secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** CCGATE_KEY_SECRET if set, else the secret file's content, else a new random secret written to it (0600). */
export function sampleKeySecret(env: Record<string, string | undefined>, db: string): SampleKeySecret {
  const fromEnv = env.CCGATE_KEY_SECRET;
  if (fromEnv !== undefined && fromEnv !== '') return { secret: fromEnv, created: false };
  const file = keySecretFile(db);
  const existing = readSecret(file);
  if (existing !== undefined) return { secret: existing, file, created: false };
  const secret = randomBytes(32).toString('base64url');
  try {
    // 'wx': never overwrite a secret another start wrote meanwhile (keys encrypted under it would be lost).
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const raced = (err as NodeJS.ErrnoException).code === 'EEXIST' ? readSecret(file) : undefined;
    if (raced === undefined) throw err;
    return { secret: raced, file, created: false };
  }
  return { secret, file, created: true };
}
