import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { MAX_SECRET_BYTES, MIN_SECRET_BYTES, type ClientRecord } from '../../registry';
import { durationArg, examples, listArg } from '../args';
import { withRegistry } from '../context';
import { formatDuration } from '../duration';
import { CliError, usageError } from '../../errors';
import { formatList, formatTime, printFields, printLine, printNotice, printTable } from '../output';

interface SecretOptions {
  secret?: string;
  secretStdin?: boolean;
}

const SECRET_HELP = `
The client secret is generated (32 random bytes) unless you supply one (${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes).
To keep it off the command line, set CCGATE_CLIENT_SECRET or pipe it with --secret-stdin.
The secret is printed once and only its bcrypt hash is stored: it cannot be shown again.`;

function clientJson(c: ClientRecord) {
  return {
    client_id: c.clientId,
    name: c.name,
    type: c.type,
    enabled: c.enabled,
    groups: c.groups,
    scopes: c.scopes,
    grant_types: c.grantTypes,
    token_ttl: c.tokenTtl,
    secrets: c.secrets.map((s) => ({ id: s.id, created_at: s.createdAt, expires_at: s.expiresAt })),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

const ttlText = (c: ClientRecord): string => (c.tokenTtl === null ? 'server default' : `${c.tokenTtl}s`);

function printClient(c: ClientRecord): void {
  printFields([
    ['client_id', c.clientId],
    ['name', c.name],
    ['type', c.type],
    ['enabled', c.enabled ? 'yes' : 'no'],
    ['token ttl', ttlText(c)],
    ['groups', formatList(c.groups)],
    ['scopes', formatList(c.scopes)],
    ['created', formatTime(c.createdAt)],
    ['updated', formatTime(c.updatedAt)],
  ]);
  if (c.type === 'public') return;
  printLine('secrets:');
  printTable(
    ['  ID', 'CREATED', 'EXPIRES'],
    c.secrets.map((s) => [`  ${s.id}`, formatTime(s.createdAt), formatTime(s.expiresAt, 'never (current)')]),
    '  (none valid)',
  );
}

/**
 * The secret from --secret, CCGATE_CLIENT_SECRET (commander fills `secret` from it) or one line of
 * stdin. One taken from the environment is said so: an exported variable lingers from command to command.
 */
async function chosenSecret(opts: SecretOptions, cmd: Command): Promise<string | undefined> {
  if (!opts.secretStdin) {
    if (opts.secret !== undefined && cmd.getOptionValueSource('secret') === 'env') printNotice('Using the secret from CCGATE_CLIENT_SECRET.');
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

function secretOptions(): Option[] {
  return [
    new Option('--secret <secret>', 'use this secret instead of a generated one').env('CCGATE_CLIENT_SECRET'),
    new Option('--secret-stdin', 'read the secret from the first line of standard input').conflicts('secret'),
  ];
}

function printSecretOnce(clientId: string, secret: string | null): void {
  printFields([
    ['client_id', clientId],
    ['client_secret', secret ?? '(none: public client)'],
  ]);
  if (secret !== null) printNotice('Warning: store this secret now. It is shown only once and cannot be recovered.');
}

export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('manage OAuth clients, their group memberships and secrets');

  const create = client
    .command('create')
    .description('create a client; prints its client_id and (once) its secret')
    .argument('<name>', 'a human-readable name (1-200 characters)')
    .option('--groups <groups>', 'groups the client belongs to, comma- or space-separated')
    .addOption(new Option('--ttl <seconds>', "access token lifetime in seconds or as 90s/30m/24h, at most 24h (default: the server's)").argParser(durationArg))
    .addOption(new Option('--public', 'a public client: no secret').conflicts(['secret', 'secretStdin']));
  for (const option of secretOptions()) create.addOption(option);
  create
    .addHelpText(
      'after',
      `${SECRET_HELP}\nWith --json it prints {"client_id":"...","client_secret":"..."} (client_secret is null for a public client).\n` +
        examples(
          'ccgate client create "billing service" --groups reporting,billing',
          'ccgate --json client create nightly-export --groups reporting --ttl 15m',
          'printf "%s\\n" "$SECRET" | ccgate client create importer --groups reporting --secret-stdin',
        ),
    )
    .action((name: string, opts: SecretOptions & { groups?: string; ttl?: number; public?: boolean }, cmd: Command) =>
      withRegistry(
        cmd,
        async ({ registry, out }) => {
          const created = await registry.createClient({
            name,
            type: opts.public ? 'public' : 'confidential',
            groups: listArg(opts.groups ?? ''),
            tokenTtl: opts.ttl ?? null,
            secret: await chosenSecret(opts, cmd),
          });
          out.emit({ client_id: created.client.clientId, client_secret: created.clientSecret }, () => {
            printLine(`Created ${created.client.type} client "${created.client.name}" (scopes: ${formatList(created.client.scopes, 'none')})`);
            printSecretOnce(created.client.clientId, created.clientSecret);
          });
        },
        { mayCreate: true },
      ),
    );

  client
    .command('list')
    .description('list clients')
    .action((_opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const clients = await registry.listClients();
        out.emit(clients.map(clientJson), () =>
          printTable(
            ['CLIENT ID', 'NAME', 'TYPE', 'ENABLED', 'TTL', 'GROUPS'],
            clients.map((c) => [c.clientId, c.name, c.type, c.enabled ? 'yes' : 'no', ttlText(c), formatList(c.groups)]),
            'No clients.',
          ),
        );
      }),
    );

  client
    .command('show')
    .description('show a client: groups, scopes, state, token lifetime and valid secrets (never their hashes)')
    .argument('<id>', 'client_id')
    .action((id: string, _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const found = await registry.getClient(id);
        if (!found) throw new CliError(`client "${id}" not found`);
        out.emit(clientJson(found), () => printClient(found));
      }),
    );

  client
    .command('disable')
    .description('disable a client: it gets no new tokens and its current tokens stop working')
    .argument('<id>', 'client_id')
    .action((id: string, _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const updated = await registry.setClientEnabled(id, false);
        out.emit(clientJson(updated), () => printLine(`Disabled client ${id}.`));
      }),
    );

  client
    .command('enable')
    .description('enable a disabled client again')
    .argument('<id>', 'client_id')
    .action((id: string, _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const updated = await registry.setClientEnabled(id, true);
        out.emit(clientJson(updated), () => printLine(`Enabled client ${id}.`));
      }),
    );

  const rotate = client
    .command('rotate-secret')
    .description('give a confidential client a new secret; prints it once')
    .argument('<id>', 'client_id')
    .addOption(new Option('--overlap <duration>', 'keep the previous secret valid this long (seconds or 90s/30m/24h/7d)').argParser(durationArg).default(0));
  for (const option of secretOptions()) rotate.addOption(option);
  rotate
    .addHelpText(
      'after',
      `${SECRET_HELP}\nWithout --overlap the previous secret stops working at once. With --json it prints {"client_id":"...","client_secret":"..."}.\n` +
        examples('ccgate client rotate-secret <client_id> --overlap 24h'),
    )
    .action((id: string, opts: SecretOptions & { overlap: number }, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const rotated = await registry.rotateClientSecret(id, { secret: await chosenSecret(opts, cmd), overlapSeconds: opts.overlap });
        out.emit({ client_id: rotated.client.clientId, client_secret: rotated.clientSecret }, () => {
          printSecretOnce(rotated.client.clientId, rotated.clientSecret);
          const previous = rotated.client.secrets.find((s) => s.expiresAt !== null);
          printLine(
            previous
              ? `The previous secret stays valid until ${formatTime(previous.expiresAt)} (${formatDuration(opts.overlap)}).`
              : 'The previous secret no longer works.',
          );
        });
      }),
    );

  client
    .command('delete')
    .description('delete a client and its secrets')
    .argument('<id>', 'client_id')
    .action((id: string, _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        await registry.deleteClient(id);
        out.emit({ client_id: id, deleted: true }, () => printLine(`Deleted client ${id}.`));
      }),
    );

  const membership = (verb: 'add-group' | 'remove-group', description: string) =>
    client
      .command(verb)
      .description(description)
      .argument('<id>', 'client_id')
      .argument('<group...>', 'group names')
      .action((id: string, groups: string[], _opts: object, cmd: Command) =>
        withRegistry(cmd, async ({ registry, out }) => {
          const names = listArg(groups);
          const updated = await (verb === 'add-group' ? registry.addClientGroups(id, names) : registry.removeClientGroups(id, names));
          out.emit(clientJson(updated), () =>
            printLine(`Client ${id} is now in groups: ${formatList(updated.groups, '(none)')}; scopes: ${formatList(updated.scopes, '(none)')}`),
          );
        }),
      );
  membership('add-group', 'add a client to groups (it gets their scopes)');
  membership('remove-group', 'remove a client from groups');
}
