import type { Command } from 'commander';
import type { GroupRecord } from '../../registry';
import { examples, listArg } from '../args';
import { withRegistry } from '../context';
import { CliError, RegistryError } from '../../errors';
import { formatList, formatTime, printFields, printLine, printTable } from '../output';

function groupJson(g: GroupRecord) {
  return { name: g.name, scopes: g.scopes, client_count: g.clientCount, created_at: g.createdAt };
}

function printGroup(g: GroupRecord): void {
  printFields([
    ['name', g.name],
    ['scopes', formatList(g.scopes)],
    ['clients', String(g.clientCount)],
    ['created', formatTime(g.createdAt)],
  ]);
}

export function registerGroupCommands(program: Command): void {
  const group = program.command('group').description('manage groups: named sets of scopes that clients receive through membership');

  group
    .command('create')
    .description('create a group')
    .argument('<name>', "group name: 1-64 letters, digits, '.', '_', ':' or '-'")
    .option('--scopes <scopes>', 'scopes the group grants, space- or comma-separated')
    .addHelpText('after', examples('ccgate group create reporting --scopes "reports:read reports:write"'))
    .action((name: string, opts: { scopes?: string }, cmd: Command) =>
      withRegistry(
        cmd,
        async ({ registry, out }) => {
          const created = await registry.createGroup(name, listArg(opts.scopes ?? ''));
          out.emit(groupJson(created), () => printLine(`Created group "${created.name}" with scopes: ${formatList(created.scopes, '(none)')}`));
        },
        { mayCreate: true },
      ),
    );

  group
    .command('list')
    .description('list groups with their scopes and number of clients')
    .action((_opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const groups = await registry.listGroups();
        out.emit(groups.map(groupJson), () =>
          printTable(
            ['NAME', 'SCOPES', 'CLIENTS', 'CREATED'],
            groups.map((g) => [g.name, formatList(g.scopes), String(g.clientCount), formatTime(g.createdAt)]),
            'No groups.',
          ),
        );
      }),
    );

  group
    .command('show')
    .description('show one group')
    .argument('<name>', 'group name')
    .action((name: string, _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const found = await registry.getGroup(name);
        if (!found) throw new CliError(`group "${name}" not found`);
        out.emit(groupJson(found), () => printGroup(found));
      }),
    );

  group
    .command('add-scope')
    .description('add scopes to a group (its clients get them at their next token)')
    .argument('<name>', 'group name')
    .argument('<scope...>', 'scopes to add')
    .addHelpText('after', examples('ccgate group add-scope reporting reports:export'))
    .action((name: string, scopes: string[], _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const updated = await registry.addGroupScopes(name, listArg(scopes));
        out.emit(groupJson(updated), () => printLine(`Group "${name}" now grants: ${formatList(updated.scopes, '(none)')}`));
      }),
    );

  group
    .command('remove-scope')
    .description('remove scopes from a group')
    .argument('<name>', 'group name')
    .argument('<scope...>', 'scopes to remove')
    .addHelpText('after', examples('ccgate group remove-scope reporting reports:write'))
    .action((name: string, scopes: string[], _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const updated = await registry.removeGroupScopes(name, listArg(scopes));
        out.emit(groupJson(updated), () => printLine(`Group "${name}" now grants: ${formatList(updated.scopes, '(none)')}`));
      }),
    );

  group
    .command('delete')
    .description('delete a group (refused while clients are members, unless --force)')
    .argument('<name>', 'group name')
    .option('--force', 'delete even if clients are members (they lose its scopes)')
    .action((name: string, opts: { force?: boolean }, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        await registry.deleteGroup(name, { force: opts.force === true }).catch((err: unknown) => {
          if (err instanceof RegistryError && err.kind === 'conflict') throw new CliError(`${err.message} (use --force)`);
          throw err;
        });
        out.emit({ name, deleted: true }, () => printLine(`Deleted group "${name}".`));
      }),
    );
}
