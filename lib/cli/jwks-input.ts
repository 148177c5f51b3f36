// Reading a JWK Set document for --jwks: a file, or standard input for `-`. Only read and parsed
// here; whether it holds acceptable public keys is the registry's rule (it refuses private members).
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { CliError, usageError } from '../errors';

/** Far above any real JWK Set (a few kilobytes), so a wrong file (a log, a device) fails fast. */
export const MAX_JWKS_BYTES = 1024 * 1024;

const READ_FAILURES: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

const PEM = /^\s*-----BEGIN /;

class TooLarge extends Error {}

async function readCapped(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_JWKS_BYTES) {
      stream.destroy();
      throw new TooLarge();
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function readFailure(where: string, err: unknown): CliError {
  if (err instanceof TooLarge) return new CliError(`--jwks: ${where} is larger than ${MAX_JWKS_BYTES / 1024 / 1024} MiB: a JWK Set is a few kilobytes`);
  const code = (err as NodeJS.ErrnoException).code;
  const reason = (code !== undefined && READ_FAILURES[code]) || (err instanceof Error ? err.message : String(err));
  return new CliError(`--jwks: cannot read ${where}: ${reason}`);
}

/** The JSON document in `source` (a path, or `-` for standard input), parsed but not yet checked as a JWK Set. */
export async function readJwks(source: string): Promise<unknown> {
  const fromStdin = source === '-';
  const where = fromStdin ? 'standard input' : `"${source}"`;
  let text: string;
  try {
    text = await readCapped(fromStdin ? process.stdin : createReadStream(source));
  } catch (err) {
    throw readFailure(where, err);
  }
  if (fromStdin && text.trim() === '') throw usageError('--jwks -: no JWK Set on standard input');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // JSON.parse's message quotes the text: never echo a file that may be a private key.
    throw new CliError(`--jwks: ${where} is not JSON${PEM.test(text) ? ': it looks like a PEM key; give the public key as a JWK Set ({"keys":[...]})' : ''}`);
  }
}
