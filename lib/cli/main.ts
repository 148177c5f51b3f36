#!/usr/bin/env node
// The `ccgate` command: manages the registry file the server reads (groups, clients, resources, revocations, keys).
import { Command, CommanderError, Option } from 'commander';
import { CliError, ConfigurationError, EXIT_REFUSED, EXIT_USAGE, RegistryError } from '../errors';
import { DEFAULTS } from '../defaults';
import { integerArg } from './args';
import { registerClientCommands } from './commands/client';
import { registerGroupCommands } from './commands/group';
import { registerKeyCommands } from './commands/key';
import { registerResourceCommands } from './commands/resource';
import { registerTokenCommands } from './commands/token';
import { printNotice } from './output';

const HELP_AFTER = `
Environment:
  CCGATE_DB             registry file or postgres:// URL, when --db is not given
  CCGATE_BCRYPT_COST    bcrypt cost for new secrets, when --bcrypt-cost is not given
  CCGATE_CLIENT_SECRET  secret for "client create" / "client rotate-secret", when --secret is not given
  CCGATE_KEY_SECRET     the server's key secret: "key rotate" encrypts new private keys under it, "key rewrap" every key
  CCGATE_KEY_SECRETS_PREVIOUS  older key secrets (comma-separated), for "key rewrap" to decrypt

Global options may come before or after the command. Exit status: 0 ok, 1 refused (not found,
conflict, invalid value), 2 usage error.

Examples:
  $ export CCGATE_DB=/var/lib/ccgate/registry.db   # or postgres://ccgate@db.internal/ccgate
  $ ccgate group create reporting --scopes "reports:read reports:write"
  $ ccgate client create "billing service" --groups reporting
  $ ccgate client create "edge proxy" --groups reporting --auth-method private_key_jwt --jwks keys.json
  $ ccgate client set-jwks <client_id> --jwks new-keys.json    # key rollover: replaces the old set at once
  $ ccgate client show <client_id> --json
  $ ccgate client rotate-secret <client_id> --overlap 24h
  $ ccgate resource create https://api.example.com/reports --scopes "reports:read reports:write"
  $ ccgate token revoke <access_token>
  $ ccgate --db registry.db key rotate --alg ES256 --lead 1h
  $ ccgate key revoke <kid>                        # a leaked signing key, killed at once
`;

export function createProgram(): Command {
  // Settings made here before .command() are inherited by every subcommand.
  const program = new Command('ccgate')
    .description('Administer a ccgate registry: groups of scopes, clients, resources (APIs), token revocations and signing keys.')
    .addOption(new Option('--db <path>', 'the registry the server uses: a SQLite file, or a postgres:// URL').env('CCGATE_DB'))
    .addOption(
      new Option('--bcrypt-cost <n>', 'bcrypt cost for new client secrets (4-15)').env('CCGATE_BCRYPT_COST').argParser(integerArg).default(DEFAULTS.bcryptCost),
    )
    .option('--json', 'print JSON for machines instead of text')
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('after', HELP_AFTER);
  registerGroupCommands(program);
  registerClientCommands(program);
  registerResourceCommands(program);
  registerTokenCommands(program);
  registerKeyCommands(program);
  return program;
}

/** Exit status for an error; expected errors print one line, never a stack trace. */
function report(err: unknown): number {
  // commander has already printed its own message (or the help).
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
  if (err instanceof CliError) {
    printNotice(`error: ${err.message}`);
    return err.exitCode;
  }
  if (err instanceof RegistryError) {
    printNotice(`error: ${err.message}`);
    return EXIT_REFUSED;
  }
  // A bad value of a global option (say --bcrypt-cost 99): a usage mistake, like a malformed one.
  if (err instanceof ConfigurationError) {
    printNotice(`error: ${err.message}`);
    return EXIT_USAGE;
  }
  const message = err instanceof Error ? err.message : String(err);
  printNotice(`error: unexpected failure: ${message.split('\n')[0]}`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await createProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    return report(err);
  }
}

if (require.main === module) {
  // Warnings (an exposed registry file, an unencrypted key) as one line each, like the CLI's other notices.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => printNotice(`Warning: ${warning.message.replace(/^ccgate: /, '')}`));
  // A reader that stops early (`ccgate --help | head`) is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  // exitCode, not exit(): lets stdout drain first.
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
