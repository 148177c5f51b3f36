import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigurationError, KeyProtectionError } from '../errors';

/**
 * Private signing keys at rest: envelope encryption under a key-encryption key (KEK) derived from a
 * secret the registry never stores (CCGATE_KEY_SECRET / the keySecret option).
 *
 * Each private key gets a random 256-bit data key (DEK); the PKCS#8 PEM is encrypted under the DEK
 * and the DEK under the KEK, both with AES-256-GCM (NIST SP 800-38D: 96-bit random IV, 128-bit tag).
 * The stored value is one ASCII string:
 *
 *   ccgate-key.v1.<kekId>.<dekIv>.<wrappedDek+tag>.<iv>.<ciphertext+tag>     (base64url fields)
 *
 * `kekId` names the secret the DEK is wrapped under, so several secrets can coexist during a
 * rotation, and a rewrap re-encrypts only the 32-byte DEK. The kid is bound into both GCM tags
 * (additional authenticated data): a value copied onto another key's row does not decrypt.
 *
 * The KEK is HKDF-SHA256 (RFC 5869) of the secret, and the KEK id a second HKDF output with another
 * `info`: it identifies the secret without revealing anything of the KEK. HKDF is not a password
 * hash, so the secret must be random (at least 32 characters: `openssl rand -base64 32`).
 */

const VERSION = 'ccgate-key.v1';
const PEM_PREFIX = '-----BEGIN ';
const HKDF_SALT = Buffer.from('ccgate signing-key protection');
const KEK_INFO = 'ccgate KEK v1';
const KEK_ID_INFO = 'ccgate KEK id v1';
/** 9 bytes: 12 base64url characters; two secrets colliding by chance is a 2^-72 event. */
const KEK_ID_BYTES = 9;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';

/** Shortest secret accepted: 32 characters of base64 carry 192 bits, far beyond guessing. */
export const MIN_KEY_SECRET_LENGTH = 32;

/** The secrets a registry protects its private keys with: one to encrypt, older ones to decrypt during a rotation. */
export interface KeySecrets {
  /** The current secret: new keys, and rewrapped ones, are encrypted under it. Absent: new keys are stored as plain PEM. */
  keySecret?: string;
  /** Earlier secrets, for decryption only, until `ccgate key rewrap` has moved every key to the current one. */
  previousKeySecrets?: string[];
}

interface Kek {
  id: string;
  key: Buffer;
}

function deriveKek(secret: string, option: string): Kek {
  if (typeof secret !== 'string' || secret.length < MIN_KEY_SECRET_LENGTH) {
    throw new ConfigurationError(
      option,
      `${option} must be a random string of at least ${MIN_KEY_SECRET_LENGTH} characters (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  const ikm = Buffer.from(secret, 'utf8');
  return {
    key: Buffer.from(hkdfSync('sha256', ikm, HKDF_SALT, KEK_INFO, 32)),
    id: Buffer.from(hkdfSync('sha256', ikm, HKDF_SALT, KEK_ID_INFO, KEK_ID_BYTES)).toString('base64url'),
  };
}

function seal(key: Buffer, plain: Buffer, aad: string): { iv: Buffer; sealed: Buffer } {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key, iv).setAAD(Buffer.from(aad));
  return { iv, sealed: Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]) };
}

/** null when the tag does not verify (wrong key, altered value). */
function unseal(key: Buffer, iv: Buffer, sealed: Buffer, aad: string): Buffer | null {
  if (iv.length !== IV_BYTES || sealed.length < TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv(CIPHER, key, iv).setAAD(Buffer.from(aad));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}

const dekAad = (kekId: string, kid: string): string => `${VERSION}|dek|${kekId}|${kid}`;
const pemAad = (kid: string): string => `${VERSION}|pem|${kid}`;
const b64 = (bytes: Buffer): string => bytes.toString('base64url');

interface Envelope {
  kekId: string;
  dekIv: Buffer;
  wrappedDek: Buffer;
  /** The PEM's IV and ciphertext, as stored: a rewrap keeps them. */
  payload: string;
}

function parseEnvelope(stored: string): Envelope | null {
  const parts = stored.split('.');
  if (parts.length !== 7 || `${parts[0]}.${parts[1]}` !== VERSION) return null;
  const [, , kekId, dekIv, wrappedDek, iv, ciphertext] = parts;
  return { kekId, dekIv: Buffer.from(dekIv, 'base64url'), wrappedDek: Buffer.from(wrappedDek, 'base64url'), payload: `${iv}.${ciphertext}` };
}

/** True for a value stored by a ccgate that did not encrypt (or had no secret): a PKCS#8 PEM. */
export const isPlaintextKey = (stored: string): boolean => stored.startsWith(PEM_PREFIX);

/** The id of the secret a stored key is encrypted under; null for a plaintext PEM. Needs no secret. */
export function keySecretIdOf(stored: string): string | null {
  return parseEnvelope(stored)?.kekId ?? null;
}

/**
 * Seals and opens private keys with the configured secrets. Without a current secret, seal() keeps
 * the PEM as it is (the callers warn or refuse: see ccgate()'s allowUnencryptedKeys).
 */
export class KeyProtector {
  private readonly current: Kek | null;
  /** Every KEK that can decrypt, the current one included, by id. */
  private readonly keks = new Map<string, Kek>();

  constructor(secrets: KeySecrets = {}) {
    this.current = secrets.keySecret === undefined ? null : deriveKek(secrets.keySecret, 'keySecret');
    for (const secret of secrets.previousKeySecrets ?? []) {
      const kek = deriveKek(secret, 'previousKeySecrets');
      this.keks.set(kek.id, kek);
    }
    if (this.current) this.keks.set(this.current.id, this.current);
  }

  /** The id of the current secret (what `key list` shows per key), or null without one. */
  get currentId(): string | null {
    return this.current?.id ?? null;
  }

  /** The value to store for a new key: an envelope under the current secret, or the PEM itself without one. */
  seal(kid: string, pem: string): string {
    if (!this.current) return pem;
    const dek = randomBytes(32);
    const wrapped = seal(this.current.key, dek, dekAad(this.current.id, kid));
    const body = seal(dek, Buffer.from(pem, 'utf8'), pemAad(kid));
    return [VERSION, this.current.id, b64(wrapped.iv), b64(wrapped.sealed), b64(body.iv), b64(body.sealed)].join('.');
  }

  /** The PEM of a stored key; KeyProtectionError when it cannot be had. */
  open(kid: string, stored: string): string {
    if (isPlaintextKey(stored)) return stored;
    const envelope = this.envelopeOf(kid, stored);
    const dek = this.unwrapDek(kid, envelope);
    const [iv, ciphertext] = envelope.payload.split('.');
    const pem = unseal(dek, Buffer.from(iv, 'base64url'), Buffer.from(ciphertext, 'base64url'), pemAad(kid));
    if (pem === null)
      throw new KeyProtectionError('undecryptable', kid, `the private key of signing key ${kid} does not decrypt: the stored value was altered`);
    return pem.toString('utf8');
  }

  /**
   * The value to store instead, encrypted under the current secret; null when it already is. A
   * plaintext PEM is encrypted; an envelope under an older secret gets its data key rewrapped.
   */
  rewrap(kid: string, stored: string): string | null {
    const current = this.current;
    if (!current) throw new ConfigurationError('keySecret', 'a rewrap needs the secret to encrypt under: set CCGATE_KEY_SECRET (keySecret)');
    if (isPlaintextKey(stored)) return this.seal(kid, stored);
    const envelope = this.envelopeOf(kid, stored);
    if (envelope.kekId === current.id) return null;
    const wrapped = seal(current.key, this.unwrapDek(kid, envelope), dekAad(current.id, kid));
    return [VERSION, current.id, b64(wrapped.iv), b64(wrapped.sealed), envelope.payload].join('.');
  }

  private envelopeOf(kid: string, stored: string): Envelope {
    const envelope = parseEnvelope(stored);
    if (!envelope) throw new KeyProtectionError('unreadable', kid, `the private key of signing key ${kid} is neither a PEM nor a ${VERSION} envelope`);
    return envelope;
  }

  private unwrapDek(kid: string, envelope: Envelope): Buffer {
    const kek = this.keks.get(envelope.kekId);
    if (!kek) {
      const [reason, hint] =
        this.keks.size === 0
          ? (['no_secret', 'no key secret is configured (CCGATE_KEY_SECRET)'] as const)
          : (['unknown_secret', 'neither CCGATE_KEY_SECRET nor CCGATE_KEY_SECRETS_PREVIOUS is that secret'] as const);
      throw new KeyProtectionError(reason, kid, `signing key ${kid} is encrypted under key secret ${envelope.kekId}, and ${hint}`);
    }
    const dek = unseal(kek.key, envelope.dekIv, envelope.wrappedDek, dekAad(kek.id, kid));
    if (dek === null || dek.length !== 32) {
      throw new KeyProtectionError(
        'undecryptable',
        kid,
        `the data key of signing key ${kid} does not decrypt under key secret ${kek.id}: the stored value was altered`,
      );
    }
    return dek;
  }
}

/**
 * The secrets named by the environment: CCGATE_KEY_SECRET (current), CCGATE_KEY_SECRETS_PREVIOUS
 * (older ones, separated by commas or white space). Empty variables count as unset.
 */
export function keySecretsFromEnv(env: NodeJS.ProcessEnv = process.env): KeySecrets {
  const current = env.CCGATE_KEY_SECRET;
  const previous = (env.CCGATE_KEY_SECRETS_PREVIOUS ?? '').split(/[\s,]+/).filter((s) => s !== '');
  return { keySecret: current === undefined || current === '' ? undefined : current, previousKeySecrets: previous };
}
