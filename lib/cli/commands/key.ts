import { Option, type Command } from 'commander';
import { SIGNING_ALGORITHMS, type KeyRecord } from '../../registry';
import { durationArg, examples } from '../args';
import { withRegistry } from '../context';
import { formatTime, printLine, printTable } from '../output';

/** Everything about a key except its private half, which the CLI never prints. */
function keyJson(k: KeyRecord) {
  return {
    kid: k.kid,
    alg: k.alg,
    status: k.status,
    created_at: k.createdAt,
    activates_at: k.activatesAt,
    retires_at: k.retiresAt,
    signed_until: k.signedUntil,
    remove_after: k.removeAfter,
    public_jwk: k.publicJwk,
  };
}

export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description('manage token signing keys (private keys are never printed)');

  key
    .command('list')
    .description('list signing keys and their lifecycle times')
    .action((_opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const keys = await registry.listKeys();
        out.emit(keys.map(keyJson), () =>
          printTable(
            ['KID', 'ALG', 'STATUS', 'ACTIVATES', 'RETIRES', 'REMOVE AFTER'],
            keys.map((k) => [k.kid, k.alg, k.status, formatTime(k.activatesAt), formatTime(k.retiresAt), formatTime(k.removeAfter)]),
            'No signing keys (the server creates one on first use).',
          ),
        );
      }),
    );

  key
    .command('rotate')
    .description('add a new signing key; the current key of that algorithm retires when the new one activates')
    .addOption(new Option('--alg <alg>', 'signing algorithm').choices(SIGNING_ALGORITHMS).default('RS256'))
    .addOption(
      new Option('--lead <duration>', 'publish the new key this long before it signs, so JWKS caches pick it up (seconds or 30m/24h)')
        .argParser(durationArg)
        .default(0),
    )
    .addHelpText(
      'after',
      '\nTokens signed by the old key stay valid until they expire; `key prune` later removes keys nobody can need.\n' +
        examples('ccgate key rotate', 'ccgate key rotate --alg ES256 --lead 1h'),
    )
    .action((opts: { alg: (typeof SIGNING_ALGORITHMS)[number]; lead: number }, cmd: Command) =>
      withRegistry(
        cmd,
        async ({ registry, out }) => {
          const added = await registry.rotateKey({ alg: opts.alg, leadSeconds: opts.lead });
          out.emit(keyJson(added), () =>
            printLine(`Added ${added.alg} key ${added.kid}; it signs from ${formatTime(added.activatesAt)} and any previous ${added.alg} key retires then.`),
          );
        },
        { mayCreate: true },
      ),
    );

  key
    .command('prune')
    .description('remove retired keys whose tokens have all expired')
    .action((_opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const removed = await registry.pruneKeys();
        out.emit({ removed }, () => printLine(`Removed ${removed} retired key(s).`));
      }),
    );
}
