// DPoP per client (RFC 9449 §5.2): the --dpop option of `client create`, and `client set-dpop`.
import { Argument, Option, type Command } from 'commander';
import { DPOP_POLICIES, type DpopPolicy } from '../../registry';
import { examples } from '../args';
import { withRegistry } from '../context';
import { printLine } from '../output';
import { clientJson } from './client-view';

export const DPOP_HELP = `
--dpop required makes every token request of the client carry a DPoP proof (RFC 9449; the client
metadata dpop_bound_access_tokens: true): a request without one is refused with invalid_request.
With allowed (the default) a request with a proof gets a DPoP-bound token, one without a bearer token.`;

export function dpopOption(): Option {
  return new Option('--dpop <policy>', 'whether token requests must carry a DPoP proof (RFC 9449)').choices(DPOP_POLICIES).default('allowed');
}

const changed = (id: string, dpop: DpopPolicy): string =>
  dpop === 'required'
    ? `Client ${id} must now send a DPoP proof with every token request; tokens it already has are unchanged.`
    : `Client ${id} may now get tokens with or without a DPoP proof.`;

export function registerSetDpop(client: Command): void {
  client
    .command('set-dpop')
    .description('set whether a client must send a DPoP proof with its token requests (RFC 9449)')
    .argument('<id>', 'client_id')
    .addArgument(new Argument('<policy>', 'required or allowed').choices(DPOP_POLICIES))
    .addHelpText(
      'after',
      `${DPOP_HELP}\nIt applies from the next token request on, on every instance. With --json it prints the client, as "client show --json" does.\n` +
        examples('ccgate client set-dpop <client_id> required', 'ccgate --json client set-dpop <client_id> allowed'),
    )
    .action((id: string, policy: DpopPolicy, _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const updated = await registry.setClientDpop(id, policy);
        out.emit(clientJson(updated), () => printLine(changed(id, updated.dpop)));
      }),
    );
}
