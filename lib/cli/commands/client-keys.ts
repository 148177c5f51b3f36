// private_key_jwt clients (RFC 7523 §2.2): the --jwks / --jwks-uri options and `client set-jwks`.
import { Option, type Command } from 'commander';
import { usageError } from '../../errors';
import type { ClientKeysSource } from '../../registry';
import { examples } from '../args';
import { withRegistry } from '../context';
import { readJwks } from '../jwks-input';
import { printLine } from '../output';
import { clientJson, keysText } from './client-view';

export interface KeyOptions {
  jwks?: string;
  jwksUri?: string;
}

export const KEYS_NEEDED = "the client's public keys: --jwks FILE (- reads standard input) or --jwks-uri URL";

export const KEYS_HELP = `
--jwks takes a JWK Set ({"keys":[...]}) of public keys, RSA (2048 bits or more) or EC P-256, each with
a unique kid: the client names it in its assertions' "kid" header. A key with a private member
(d, p, q, ...) is refused, naming its kid. --jwks-uri names an https URL the server fetches the set from.`;

export function keyOptions(): Option[] {
  return [
    new Option('--jwks <file>', 'the public keys: a JWK Set file; - reads standard input'),
    new Option('--jwks-uri <url>', 'the https URL the client publishes its JWK Set at').conflicts('jwks'),
  ];
}

/** Whether the options name keys at all. */
export const hasKeys = (opts: KeyOptions): boolean => opts.jwks !== undefined || opts.jwksUri !== undefined;

/** The keys the options name, read (a file, or standard input) but not checked: the registry checks them. */
export async function keysSource(opts: KeyOptions, what: string): Promise<ClientKeysSource> {
  if (opts.jwksUri !== undefined) return { jwksUri: opts.jwksUri };
  if (opts.jwks === undefined) throw usageError(`${what} needs ${KEYS_NEEDED}`);
  return { jwks: await readJwks(opts.jwks) };
}

export function registerSetJwks(client: Command): void {
  const setJwks = client
    .command('set-jwks')
    .description("replace a private_key_jwt client's public keys (key rollover): the new set replaces the old at once")
    .argument('<id>', 'client_id');
  for (const option of keyOptions()) setJwks.addOption(option);
  setJwks
    .addHelpText(
      'after',
      `${KEYS_HELP}\n\nAssertions signed with a key outside the new set are refused from then on. For a rollover without a gap,\n` +
        'register the old and the new key together, move the client to the new key, then register the new key alone.\n' +
        'With --json it prints the client, as "client show --json" does.\n' +
        examples(
          'ccgate client set-jwks <client_id> --jwks keys.json',
          'ccgate client set-jwks <client_id> --jwks - < old-and-new-keys.json',
          'ccgate client set-jwks <client_id> --jwks-uri https://svc.example.com/jwks.json',
        ),
    )
    .action(async (id: string, opts: KeyOptions, cmd: Command) => {
      // Read before the registry is opened: a bad file changes nothing.
      const source = await keysSource(opts, 'client set-jwks');
      await withRegistry(cmd, async ({ registry, out }) => {
        const updated = await registry.setClientJwks(id, source);
        out.emit(clientJson(updated), () => printLine(`Client ${id} now authenticates with ${keysText(updated)}; the previous keys no longer work.`));
      });
    });
}
