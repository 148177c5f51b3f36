// Client secrets on the command line: --secret, CCGATE_CLIENT_SECRET, --secret-stdin, and printing one once.
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { usageError } from '../../errors';
import { MAX_SECRET_BYTES, MIN_SECRET_BYTES } from '../../registry';
import { printFields, printNotice } from '../output';

export interface SecretOptions {
  secret?: string;
  secretStdin?: boolean;
}

export const SECRET_HELP = `
The client secret is generated (32 random bytes) unless you supply one (${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes).
To keep it off the command line, set CCGATE_CLIENT_SECRET or pipe it with --secret-stdin.
The secret is printed once and only its bcrypt hash is stored: it cannot be shown again.`;

/** Whether the secret came from CCGATE_CLIENT_SECRET (commander fills `secret` from it), not from the command line. */
export const secretFromEnv = (opts: SecretOptions, cmd: Command): boolean => opts.secret !== undefined && cmd.getOptionValueSource('secret') === 'env';

/**
 * The secret from --secret, CCGATE_CLIENT_SECRET or one line of stdin. One taken from the
 * environment is said so: an exported variable lingers from command to command.
 */
export async function chosenSecret(opts: SecretOptions, cmd: Command): Promise<string | undefined> {
  if (!opts.secretStdin) {
    if (secretFromEnv(opts, cmd)) printNotice('Using the secret from CCGATE_CLIENT_SECRET.');
    return opts.secret;
  }
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  try {
    // Only the first line counts; an empty one means no secret.
    for await (const line of lines) {
      if (line !== '') return line;
      break;
    }
  } finally {
    lines.close();
  }
  throw usageError('--secret-stdin: no secret on standard input');
}

export function secretOptions(): Option[] {
  return [
    new Option('--secret <secret>', 'use this secret instead of a generated one').env('CCGATE_CLIENT_SECRET'),
    new Option('--secret-stdin', 'read the secret from the first line of standard input').conflicts('secret'),
  ];
}

export function printSecretOnce(clientId: string, secret: string | null): void {
  printFields([
    ['client_id', clientId],
    ['client_secret', secret ?? '(none: public client)'],
  ]);
  if (secret !== null) printNotice('Warning: store this secret now. It is shown only once and cannot be recovered.');
}
