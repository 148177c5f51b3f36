import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { publicJwkOf, type PublicJwk, type SigningAlgorithm } from './jwk';

/** The shape of a stored key that the keyring needs (the registry's KeyRecord satisfies it). */
export interface StoredKey {
  kid: string;
  alg: SigningAlgorithm;
  status: 'pending' | 'active' | 'retired';
  /** The private key as stored: a PEM, or an encrypted envelope that only the source's openPrivateKey reads. */
  privateKeyPem: string;
  publicJwk: PublicJwk;
  activatesAt: number;
  retiresAt: number | null;
  /** When the key may leave the JWKS; null while it may still sign. */
  removeAfter: number | null;
}

/** Where keys come from: the registry, or anything that stores them. */
export interface KeySource {
  listKeys(): Promise<StoredKey[]>;
  ensureSigningKey(alg: SigningAlgorithm): Promise<StoredKey>;
  /**
   * A number that moves whenever the stored keys may have changed (another process rotated or
   * removed one): synchronous and cheap, asked on every lookup.
   */
  version(): number;
  /**
   * The PEM of a key's private half, decrypting it if it is stored encrypted; called only to sign.
   * Absent: privateKeyPem is the PEM itself.
   */
  openPrivateKey?(key: StoredKey): string;
}

/** A verification key looked up by kid: what both guards need. */
export interface VerificationKey {
  kid: string;
  alg: SigningAlgorithm;
  key: KeyObject;
}

export interface VerificationKeys {
  /** The key for kid, or undefined when it is not (or no longer) published. */
  keyFor(kid: string): Promise<VerificationKey | undefined>;
  /**
   * Synchronous, without any I/O: the key for kid when what is held is known to be current (so
   * keyFor would answer the same without fetching or reloading anything), else undefined, which
   * says only "ask keyFor". Absent: always ask keyFor.
   */
  knownKey?(kid: string): VerificationKey | undefined;
}

export interface SigningKey extends VerificationKey {
  privateKey: KeyObject;
}

interface ParsedKey {
  stored: StoredKey;
  /** Decrypted and parsed on first use for signing: verification and the JWKS never need it (nor the key secret). */
  privateKey?: KeyObject;
  publicKey: KeyObject;
  /** What keyFor answers, built once. */
  verification: VerificationKey;
  /** What the JWKS shows (publicJwkOf: no private member can ever be published). */
  published: PublicJwk;
}

/**
 * Keys parsed into KeyObjects once (PEM parsing on every sign or verify costs several times the
 * crypto itself). Reloads from the source only when its version moves or a key's status changes
 * with time.
 */
export class Keyring implements VerificationKeys {
  private parsed = new Map<string, ParsedKey>();
  private loadedVersion: number | null = null;
  private loading: Promise<void> | null = null;

  constructor(private readonly source: KeySource) {}

  async keyFor(kid: string): Promise<VerificationKey | undefined> {
    // A kid we hold needs no registry read while the registry is unchanged; an unknown kid asks again.
    let key = this.parsed.get(kid);
    if (!key || this.stale()) {
      await this.refresh();
      key = this.parsed.get(kid);
    }
    return key?.verification;
  }

  /** The key for kid when the keys held are current (the source's version unchanged, no transition due); else undefined: ask keyFor. */
  knownKey(kid: string): VerificationKey | undefined {
    const key = this.parsed.get(kid);
    return key === undefined || this.stale() ? undefined : key.verification;
  }

  async signingKey(alg: SigningAlgorithm): Promise<SigningKey> {
    await this.refresh();
    let key = this.activeKey(alg);
    if (!key) {
      await this.source.ensureSigningKey(alg);
      await this.refresh(true);
      key = this.activeKey(alg);
      if (!key) throw new Error(`no ${alg} signing key could be loaded`);
    }
    key.privateKey ??= createPrivateKey(this.source.openPrivateKey?.(key.stored) ?? key.stored.privateKeyPem);
    return { kid: key.stored.kid, alg, key: key.publicKey, privateKey: key.privateKey };
  }

  /** RFC 7517 §5: the public keys that may have signed a live token. */
  async jwks(): Promise<{ keys: PublicJwk[] }> {
    await this.refresh();
    return { keys: [...this.parsed.values()].map((k) => k.published) };
  }

  private activeKey(alg: SigningAlgorithm): ParsedKey | undefined {
    let found: ParsedKey | undefined;
    for (const key of this.parsed.values()) {
      if (key.stored.alg === alg && key.stored.status === 'active') found = key; // listKeys is ordered by activation
    }
    return found;
  }

  private stale(): boolean {
    return this.source.version() !== this.loadedVersion || this.statusMayHaveChanged();
  }

  private async refresh(force = false): Promise<void> {
    if (!force && !this.stale()) return;
    // A forced reload must not settle for a load that began before what it waits for was written.
    if (force && this.loading) await this.loading.catch(() => undefined);
    // One load at a time; concurrent callers share it.
    this.loading ??= this.load(this.source.version()).finally(() => {
      this.loading = null;
    });
    await this.loading;
  }

  /** Status is derived from time: a key activates, retires and leaves the JWKS without any write. */
  private nextTransition = Infinity;
  private statusMayHaveChanged(): boolean {
    return Date.now() / 1000 >= this.nextTransition;
  }

  private async load(version: number): Promise<void> {
    const stored = await this.source.listKeys();
    const now = Date.now() / 1000;
    const next = new Map<string, ParsedKey>();
    let transition = Infinity;
    for (const key of stored) {
      if (key.removeAfter !== null && key.removeAfter <= now) continue; // every token it signed has expired
      for (const t of [key.activatesAt, key.retiresAt, key.removeAfter]) {
        if (t !== null && t > now) transition = Math.min(transition, t);
      }
      const previous = this.parsed.get(key.kid);
      const publicKey = previous?.publicKey ?? createPublicKey({ key: { ...key.publicJwk }, format: 'jwk' });
      next.set(key.kid, {
        stored: key,
        privateKey: previous?.privateKey,
        publicKey,
        verification: { kid: key.kid, alg: key.alg, key: publicKey },
        published: previous?.published ?? publicJwkOf(key.kid, key.alg, publicKey),
      });
    }
    this.parsed = next;
    this.loadedVersion = version;
    this.nextTransition = transition;
  }
}
