import { ConfigurationError } from './errors';
import { keySecretsFromEnv, type KeySecrets } from './registry/key-protection';

/** The options of ccgate() that say how private signing keys are protected at rest. */
export interface KeySecretOptions {
  keySecret?: string;
  previousKeySecrets?: string[];
  allowUnencryptedKeys?: boolean;
}

/** Warned once per process: one line in the log, not one per instance or test. */
let warned = false;

const UNENCRYPTED =
  'no key secret is configured (keySecret / CCGATE_KEY_SECRET): new private signing keys are stored unencrypted in the registry, ' +
  'and anyone who reads the registry file or a backup can mint tokens. Set CCGATE_KEY_SECRET to a random secret ' +
  '(`openssl rand -base64 32`), or pass allowUnencryptedKeys: true to accept this.';

/**
 * The key secrets ccgate() runs with: the options, else the environment (CCGATE_KEY_SECRET,
 * CCGATE_KEY_SECRETS_PREVIOUS). Without a current secret, NODE_ENV=production refuses to start
 * unless `allowUnencryptedKeys`; anywhere else it warns once (unless allowed).
 */
export function resolveKeySecrets(options: KeySecretOptions, env: NodeJS.ProcessEnv = process.env): KeySecrets {
  const fromEnv = keySecretsFromEnv(env);
  const keySecret = options.keySecret ?? fromEnv.keySecret;
  const previousKeySecrets = options.previousKeySecrets ?? fromEnv.previousKeySecrets;
  if (keySecret === undefined && options.allowUnencryptedKeys !== true) {
    if (env.NODE_ENV === 'production') throw new ConfigurationError('keySecret', `NODE_ENV=production and ${UNENCRYPTED}`);
    if (!warned) {
      warned = true;
      process.emitWarning(`ccgate: ${UNENCRYPTED}`, { code: 'CCGATE_UNENCRYPTED_KEYS' });
    }
  }
  return { keySecret, previousKeySecrets };
}

/** The few registry reads warnAboutPlaintextKeys needs. */
interface KeyListing {
  readonly keySecretId: string | null;
  listKeys(): Promise<Array<{ kid: string; keySecretId: string | null }>>;
}

/**
 * With a key secret configured, keys still stored as plain PEM (written before encryption, or by a
 * process without the secret) are named once per process: `ccgate key rewrap` encrypts them. They are
 * not encrypted behind the operator's back: an instance of a rolling upgrade without the secret
 * could no longer sign.
 */
let warnedPlaintext = false;
export async function warnAboutPlaintextKeys(registry: KeyListing): Promise<void> {
  if (warnedPlaintext || registry.keySecretId === null) return;
  const plain = (await registry.listKeys()).filter((k) => k.keySecretId === null).map((k) => k.kid);
  if (plain.length === 0) return;
  warnedPlaintext = true;
  process.emitWarning(`ccgate: ${plain.length} signing key(s) are stored unencrypted (${plain.join(', ')}); run \`ccgate key rewrap\` to encrypt them`, {
    code: 'CCGATE_UNENCRYPTED_KEYS',
  });
}
