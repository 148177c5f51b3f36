// Resources (RFC 8707): the APIs a token may be requested for by URI, and the scopes each understands.
import type { Command } from 'commander';
import { CliError } from '../../errors';
import type { ResourceRecord } from '../../registry';
import { examples, listArg } from '../args';
import { withRegistry } from '../context';
import { formatList, formatTime, printFields, printLine, printTable } from '../output';

const RESOURCE_HELP = `
A token request naming resource=URI (RFC 8707) gets a token whose "aud" is that URI, with only the
client's scopes that the resource understands; an unknown URI is refused (invalid_target). URIs are
absolute, without a fragment or a query, and compared character for character.
`;

function resourceJson(r: ResourceRecord) {
  return { uri: r.uri, scopes: r.scopes, created_at: r.createdAt, updated_at: r.updatedAt };
}

function printResource(r: ResourceRecord): void {
  printFields([
    ['uri', r.uri],
    ['scopes', formatList(r.scopes)],
    ['created', formatTime(r.createdAt)],
    ['updated', formatTime(r.updatedAt)],
  ]);
}

const scopesLine = (r: ResourceRecord): string => `Resource "${r.uri}" now understands: ${formatList(r.scopes, '(none)')}`;

function registerScopeCommand(resource: Command, verb: 'add-scope' | 'remove-scope', description: string, example: string): void {
  resource
    .command(verb)
    .description(description)
    .argument('<uri>', 'resource URI')
    .argument('<scope...>', verb === 'add-scope' ? 'scopes to add' : 'scopes to remove')
    .addHelpText('after', examples(example))
    .action((uri: string, scopes: string[], _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const names = listArg(scopes);
        const updated = await (verb === 'add-scope' ? registry.addResourceScopes(uri, names) : registry.removeResourceScopes(uri, names));
        out.emit(resourceJson(updated), () => printLine(scopesLine(updated)));
      }),
    );
}

export function registerResourceCommands(program: Command): void {
  const resource = program
    .command('resource')
    .description('manage resources (RFC 8707): the APIs tokens are issued for, by URI, and the scopes each understands')
    .addHelpText('after', RESOURCE_HELP);

  resource
    .command('create')
    .description('register a resource')
    .argument('<uri>', 'the API\'s URI: the "aud" of its tokens (absolute, no fragment or query)')
    .option('--scopes <scopes>', 'scopes the resource understands, space- or comma-separated')
    .addHelpText('after', examples('ccgate resource create https://api.example.com/reports --scopes "reports:read reports:write"'))
    .action((uri: string, opts: { scopes?: string }, cmd: Command) =>
      withRegistry(
        cmd,
        async ({ registry, out }) => {
          const created = await registry.createResource(uri, listArg(opts.scopes ?? ''));
          out.emit(resourceJson(created), () => printLine(`Created resource "${created.uri}" with scopes: ${formatList(created.scopes, '(none)')}`));
        },
        { mayCreate: true },
      ),
    );

  resource
    .command('list')
    .description('list resources with their scopes')
    .action((_opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const resources = await registry.listResources();
        out.emit(resources.map(resourceJson), () =>
          printTable(
            ['URI', 'SCOPES', 'CREATED', 'UPDATED'],
            resources.map((r) => [r.uri, formatList(r.scopes), formatTime(r.createdAt), formatTime(r.updatedAt)]),
            'No resources.',
          ),
        );
      }),
    );

  resource
    .command('show')
    .description('show one resource')
    .argument('<uri>', 'resource URI')
    .action((uri: string, _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const found = await registry.getResource(uri);
        if (!found) throw new CliError(`resource "${uri}" not found`);
        out.emit(resourceJson(found), () => printResource(found));
      }),
    );

  registerScopeCommand(
    resource,
    'add-scope',
    'add scopes the resource understands (new tokens for it may carry them)',
    'ccgate resource add-scope https://api.example.com/reports reports:export',
  );
  registerScopeCommand(resource, 'remove-scope', 'remove scopes from a resource', 'ccgate resource remove-scope https://api.example.com/reports reports:write');

  resource
    .command('delete')
    .description('delete a resource: token requests naming it are refused from then on')
    .argument('<uri>', 'resource URI')
    .action((uri: string, _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        await registry.deleteResource(uri);
        out.emit({ uri, deleted: true }, () => printLine(`Deleted resource "${uri}".`));
      }),
    );
}
