import { Option, type Command } from 'commander';
import { DEFAULTS } from '../../defaults';
import { CliError } from '../../errors';
import { SIGNING_ALGORITHMS, type KeyRecord, type Registry } from '../../registry';
import { durationArg, examples } from '../args';
import { withRegistry } from '../context';
import { formatTime, printLine, printNotice, printTable } from '../output';

/**
 * The default lead of `key rotate`: what ccgate()'s rotateKey() uses with the default jwksMaxAge, so
 * every validator's cached JWKS holds the new key before it signs anything.
 */
export const CLI_ROTATION_LEAD_SECONDS = DEFAULTS.jwksMaxAgeSeconds + DEFAULTS.rotationLeadMarginSeconds;

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
    key_secret_id: k.keySecretId,
    public_jwk: k.publicJwk,
  };
}

/** How the private half is kept: the id of the secret it is encrypted under, or a plain PEM. */
const atRest = (k: KeyRecord): string => (k.keySecretId === null ? 'PLAINTEXT' : `encrypted:${k.keySecretId}`);

/**
 * Without CCGATE_KEY_SECRET a new key is stored as plain PEM: refused under NODE_ENV=production (as
 * the server refuses to start) unless asked for, said on stderr otherwise.
 */
function checkUnencrypted(registry: Registry, allowed: boolean): void {
  if (registry.keySecretId !== null || allowed) return;
  const why = 'CCGATE_KEY_SECRET is not set, so the new private key would be stored unencrypted';
  if (process.env.NODE_ENV === 'production') throw new CliError(`NODE_ENV=production and ${why}; set it, or pass --allow-unencrypted-keys`);
  printNotice(`Warning: ${why} (set CCGATE_KEY_SECRET to the server's key secret).`);
}

export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description('manage token signing keys (private keys are never printed)');

  key
    .command('list')
    .description('list signing keys, their lifecycle times and how their private halves are stored')
    .action((_opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const keys = await registry.listKeys();
        out.emit(keys.map(keyJson), () =>
          printTable(
            ['KID', 'ALG', 'STATUS', 'ACTIVATES', 'RETIRES', 'REMOVE AFTER', 'AT REST'],
            keys.map((k) => [k.kid, k.alg, k.status, formatTime(k.activatesAt), formatTime(k.retiresAt), formatTime(k.removeAfter), atRest(k)]),
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
        .default(CLI_ROTATION_LEAD_SECONDS, `${CLI_ROTATION_LEAD_SECONDS}s: the default jwksMaxAge + ${DEFAULTS.rotationLeadMarginSeconds}s`),
    )
    .option('--allow-unencrypted-keys', 'with NODE_ENV=production, store the new key unencrypted when CCGATE_KEY_SECRET is not set')
    .addHelpText(
      'after',
      "\nUse a lead at least as long as the server's jwksMaxAge (plus a margin); --lead 0 makes the key sign at once.\n" +
        "Set CCGATE_KEY_SECRET to the server's key secret, so the new private key is stored encrypted and the server can use it.\n" +
        'Tokens signed by the old key stay valid until they expire; `key prune` later removes keys nobody can need.\n' +
        examples('ccgate key rotate', 'ccgate key rotate --alg ES256 --lead 1h'),
    )
    .action((opts: { alg: (typeof SIGNING_ALGORITHMS)[number]; lead: number; allowUnencryptedKeys?: boolean }, cmd: Command) =>
      withRegistry(
        cmd,
        async ({ registry, out }) => {
          checkUnencrypted(registry, opts.allowUnencryptedKeys === true);
          const added = await registry.rotateKey({ alg: opts.alg, leadSeconds: opts.lead });
          out.emit(keyJson(added), () =>
            printLine(`Added ${added.alg} key ${added.kid}; it signs from ${formatTime(added.activatesAt)} and any previous ${added.alg} key retires then.`),
          );
        },
        { mayCreate: true },
      ),
    );

  key
    .command('revoke')
    .argument('<kid>', 'the key to kill (see `key list`)')
    .description('kill a leaked signing key at once: removed from the registry and the JWKS; tokens it signed are refused')
    .addHelpText(
      'after',
      '\nLocal guards and introspection refuse its tokens from their next request on; remote guards in JWKS mode at\n' +
        'their next key set fetch (jwksMaxAge, or an unknown kid). If it was signing, the server makes a new key for\n' +
        'the next token. See README "Key incident".\n' +
        examples('ccgate key list', 'ccgate key revoke <kid>'),
    )
    .action((kid: string, _opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        const revoked = await registry.revokeKey(kid);
        out.emit({ revoked: revoked.kid, alg: revoked.alg, status: revoked.status }, () =>
          printLine(`Revoked ${revoked.alg} key ${revoked.kid} (was ${revoked.status}): removed from the registry and the JWKS; tokens it signed are refused.`),
        );
      }),
    );

  key
    .command('rewrap')
    .description('re-encrypt every private signing key under CCGATE_KEY_SECRET (older secrets in CCGATE_KEY_SECRETS_PREVIOUS)')
    .addHelpText(
      'after',
      '\nAlso encrypts keys stored as plain PEM (registries from before key encryption). Once it is done, the previous\n' +
        'secrets are no longer needed by anyone: remove them from CCGATE_KEY_SECRETS_PREVIOUS everywhere.\n' +
        examples('CCGATE_KEY_SECRET="$NEW" CCGATE_KEY_SECRETS_PREVIOUS="$OLD" ccgate key rewrap'),
    )
    .action((_opts: object, cmd: Command) =>
      withRegistry(cmd, async ({ registry, out }) => {
        if (registry.keySecretId === null) throw new CliError('CCGATE_KEY_SECRET is not set: it names the secret to encrypt every key under');
        const result = await registry.rewrapKeys();
        out.emit({ key_secret_id: result.keySecretId, rewrapped: result.rewrapped, encrypted: result.encrypted, unchanged: result.unchanged }, () =>
          printLine(
            `Every signing key is now encrypted under key secret ${result.keySecretId}: ${result.rewrapped.length} rewrapped from an older secret, ` +
              `${result.encrypted.length} encrypted from plain PEM, ${result.unchanged.length} already current.`,
          ),
        );
      }),
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
