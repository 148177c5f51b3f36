// `client create`: a client with a secret (client_secret_basic or client_secret_post), a public
// client, or a private_key_jwt client that registers public keys and has no secret (RFC 7523 §2.2).
import { Option, type Command } from 'commander';
import { usageError } from '../../errors';
import { CLIENT_AUTH_METHODS, type ClientAuthMethod, type ClientKeysSource, type CreatedClient, type DpopPolicy } from '../../registry';
import { durationArg, examples, listArg } from '../args';
import { withRegistry } from '../context';
import { formatList, printFields, printLine, printNotice } from '../output';
import { DPOP_HELP, dpopOption } from './client-dpop';
import { hasKeys, keyOptions, KEYS_HELP, KEYS_NEEDED, keysSource, type KeyOptions } from './client-keys';
import { chosenSecret, printSecretOnce, SECRET_HELP, secretFromEnv, secretOptions, type SecretOptions } from './client-secrets';
import { kidsOf } from './client-view';

interface CreateOptions extends SecretOptions, KeyOptions {
  groups?: string;
  ttl?: number;
  public?: boolean;
  authMethod: ClientAuthMethod;
  dpop: DpopPolicy;
}

const METHOD_HELP = `
The token endpoint accepts only the client's own method: client_secret_basic (HTTP Basic, the default),
client_secret_post (client_id and client_secret in the form), or private_key_jwt (a JWT signed with one
of the client's keys, RFC 7523; no secret).`;

/** The option of the two that was given, for messages. */
const keysOption = (opts: KeyOptions): string => (opts.jwks !== undefined ? '--jwks' : '--jwks-uri');

/** The keys a private_key_jwt client registers (undefined for any other); options that do not fit the method are usage errors. */
async function keysOfNew(opts: CreateOptions, cmd: Command): Promise<ClientKeysSource | undefined> {
  if (opts.authMethod !== 'private_key_jwt') {
    if (!hasKeys(opts)) return undefined;
    const hint = cmd.getOptionValueSource('authMethod') === 'default' ? 'add --auth-method private_key_jwt' : `not with --auth-method ${opts.authMethod}`;
    throw usageError(`${keysOption(opts)} registers the public keys of a private_key_jwt client: ${hint}`);
  }
  if (opts.secretStdin || (opts.secret !== undefined && !secretFromEnv(opts, cmd))) {
    throw usageError('a private_key_jwt client has no secret: drop --secret / --secret-stdin');
  }
  if (!hasKeys(opts)) throw usageError(`--auth-method private_key_jwt needs ${KEYS_NEEDED}`);
  if (opts.secret !== undefined) printNotice('Ignoring CCGATE_CLIENT_SECRET: a private_key_jwt client has no secret.');
  return keysSource(opts, '--auth-method private_key_jwt');
}

/** What --json prints: the id, and the secret unless the client authenticates with keys. */
function createdJson({ client, clientSecret }: CreatedClient) {
  return client.authMethod === 'private_key_jwt' ? { client_id: client.clientId } : { client_id: client.clientId, client_secret: clientSecret };
}

function printCreated({ client, clientSecret }: CreatedClient): void {
  printLine(`Created ${client.type} client "${client.name}" (scopes: ${formatList(client.scopes, 'none')})`);
  if (client.authMethod !== 'private_key_jwt') printSecretOnce(client.clientId, clientSecret);
  else printKeyClient(client);
  if (client.dpop === 'required') printLine('Its token requests must carry a DPoP proof (--dpop required).');
}

function printKeyClient(client: CreatedClient['client']): void {
  printFields([
    ['client_id', client.clientId],
    ['auth method', client.authMethod],
    client.jwksUri === null ? ['keys', formatList(kidsOf(client))] : ['jwks_uri', client.jwksUri],
  ]);
}

export function registerCreate(client: Command): void {
  const create = client
    .command('create')
    .description('create a client; prints its client_id and (once) its secret, if it has one')
    .argument('<name>', 'a human-readable name (1-200 characters)')
    .option('--groups <groups>', 'groups the client belongs to, comma- or space-separated')
    .addOption(new Option('--ttl <seconds>', "access token lifetime in seconds or as 90s/30m/24h, at most 24h (default: the server's)").argParser(durationArg))
    .addOption(new Option('--auth-method <method>', 'how the client authenticates').choices(CLIENT_AUTH_METHODS).default('client_secret_basic'))
    .addOption(new Option('--public', 'a public client: no secret').conflicts(['secret', 'secretStdin', 'authMethod', 'jwks', 'jwksUri']));
  for (const option of [...secretOptions(), ...keyOptions(), dpopOption()]) create.addOption(option);
  create
    .addHelpText(
      'after',
      `${METHOD_HELP}\n${SECRET_HELP}\n${KEYS_HELP}\n${DPOP_HELP}\n\n` +
        'With --json it prints {"client_id":"...","client_secret":"..."} (client_secret is null for a public client),\n' +
        'and {"client_id":"..."} for a private_key_jwt client.\n' +
        examples(
          'ccgate client create "billing service" --groups reporting,billing',
          'ccgate --json client create nightly-export --groups reporting --ttl 15m',
          'printf "%s\\n" "$SECRET" | ccgate client create importer --groups reporting --secret-stdin',
          'ccgate client create "edge proxy" --groups reporting --auth-method private_key_jwt --jwks keys.json',
          'ccgate client create mesh --auth-method private_key_jwt --jwks-uri https://mesh.example.com/jwks.json',
          'ccgate client create "payments worker" --groups billing --dpop required',
        ),
    )
    .action(async (name: string, opts: CreateOptions, cmd: Command) => {
      // Read before the registry is opened (or created): a bad option or file changes nothing.
      const keys = await keysOfNew(opts, cmd);
      await withRegistry(
        cmd,
        async ({ registry, out }) => {
          const created = await registry.createClient({
            name,
            type: opts.public ? 'public' : 'confidential',
            groups: listArg(opts.groups ?? ''),
            tokenTtl: opts.ttl ?? null,
            authMethod: opts.authMethod,
            dpop: opts.dpop,
            ...(keys ?? { secret: await chosenSecret(opts, cmd) }),
          });
          out.emit(createdJson(created), () => printCreated(created));
        },
        { mayCreate: true },
      );
    });
}
