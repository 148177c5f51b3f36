// `client set-auth-method`: a secret client between client_secret_basic and client_secret_post (RFC 6749 §2.3.1).
import { Argument, type Command } from 'commander';
import type { ClientAuthMethod } from '../../registry';
import { examples } from '../args';
import { withRegistry } from '../context';
import { printLine } from '../output';
import { clientJson } from './client-view';

const SECRET_METHODS = ['client_secret_basic', 'client_secret_post'] as const;

export function registerSetAuthMethod(client: Command): void {
  client
    .command('set-auth-method')
    .description('switch a secret client between client_secret_basic and client_secret_post (it may then use only the new one)')
    .argument('<id>', 'client_id')
    .addArgument(new Argument('<method>', 'client_secret_basic or client_secret_post').choices(SECRET_METHODS))
    .addHelpText(
      'after',
      '\nEach client authenticates with exactly one method (RFC 6749 §2.3). Clients registered before methods existed use\n' +
        'client_secret_basic: one that sends its secret in the form needs client_secret_post. With --json it prints the client.\n' +
        examples('ccgate client set-auth-method <client_id> client_secret_post'),
    )
    .action((id: string, method: ClientAuthMethod, _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const updated = await registry.setClientAuthMethod(id, method);
        out.emit(clientJson(updated), () => printLine(`Client ${id} now authenticates with ${updated.authMethod} only.`));
      }),
    );
}
