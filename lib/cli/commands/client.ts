import { Option, type Command } from 'commander';
import { CliError } from '../../errors';
import { durationArg, examples, listArg } from '../args';
import { withRegistry } from '../context';
import { formatDuration } from '../duration';
import { formatList, formatTime, printLine, printTable } from '../output';
import { registerCreate } from './client-create';
import { registerSetAuthMethod } from './client-auth-method';
import { registerSetDpop } from './client-dpop';
import { registerSetJwks } from './client-keys';
import { chosenSecret, printSecretOnce, SECRET_HELP, secretOptions, type SecretOptions } from './client-secrets';
import { authMethodOf, clientJson, printClient, ttlText } from './client-view';

export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('manage OAuth clients, their group memberships, secrets, keys and DPoP policy');

  registerCreate(client);

  client
    .command('list')
    .description('list clients')
    .action((_opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const clients = await registry.listClients();
        out.emit(clients.map(clientJson), () =>
          printTable(
            ['CLIENT ID', 'NAME', 'TYPE', 'AUTH METHOD', 'ENABLED', 'TTL', 'GROUPS'],
            clients.map((c) => [c.clientId, c.name, c.type, authMethodOf(c), c.enabled ? 'yes' : 'no', ttlText(c), formatList(c.groups)]),
            'No clients.',
          ),
        );
      }),
    );

  client
    .command('show')
    .description('show a client: groups, scopes, state, token lifetime, auth method, and valid secrets (never their hashes) or key ids')
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

  registerSetJwks(client);
  registerSetDpop(client);
  registerSetAuthMethod(client);

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
