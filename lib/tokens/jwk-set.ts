import { createPublicKey, type KeyObject } from 'node:crypto';
import type { JwsAlgorithm, JwsKey } from './jws';

/** An RSA public key a client signs assertions with (RFC 7518 §6.3.1). Without `alg`: RS256 and PS256. */
export interface RsaClientJwk {
  kty: 'RSA';
  kid: string;
  use?: 'sig';
  alg?: 'RS256' | 'PS256';
  n: string;
  e: string;
}

/** An EC P-256 public key a client signs assertions with (RFC 7518 §6.2.1). Without `alg`: ES256. */
export interface EcClientJwk {
  kty: 'EC';
  kid: string;
  use?: 'sig';
  alg?: 'ES256';
  crv: 'P-256';
  x: string;
  y: string;
}

export type ClientPublicJwk = RsaClientJwk | EcClientJwk;

/** A client's public keys (RFC 7517 §5), as registered: only public members, each key with a unique kid. */
export interface ClientJwks {
  keys: ClientPublicJwk[];
}

/** Most keys in a client's set (old and new during a rollover, a few spares). */
export const MAX_CLIENT_KEYS = 20;
/** Largest client key set, as JSON; also what is read of a fetched one. */
export const MAX_CLIENT_JWKS_BYTES = 64 * 1024;
const MAX_KID_LENGTH = 128;
/** RSA moduli accepted: at least 2048 bits (RFC 7518 §3.3), at most 8192 (beyond, verifying costs more than it protects). */
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;
/** Largest RSA public exponent accepted (65537 in practice; a huge one makes verifying slow). */
const MAX_RSA_EXPONENT = 2n ** 32n;

/** JWK members that belong to a private or a symmetric key (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

const ALGORITHMS_OF_KTY = { RSA: ['RS256', 'PS256'], EC: ['ES256'] } as const satisfies Record<ClientPublicJwk['kty'], readonly JwsAlgorithm[]>;

/** A key that passed every check: its normalized JWK and its KeyObject. */
interface CheckedKey {
  jwk: ClientPublicJwk;
  key: KeyObject;
}

/** A key refused: why, and whether it gives away a private key (which spoils the whole set). */
interface RefusedKey {
  error: string;
  privateMembers: boolean;
}

const refused = (error: string, privateMembers = false): RefusedKey => ({ error, privateMembers });

/** A member's value as the error shows it: as JSON ("enc", 5, ["a"]). */
const shown = (value: unknown): string => JSON.stringify(value) ?? String(value);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The set's members every caller checks: an object with a keys array, at most MAX_CLIENT_KEYS of them. */
function keysOf(document: unknown): { ok: true; keys: unknown[] } | { ok: false; error: string } {
  if (!isObject(document) || !Array.isArray(document.keys)) return { ok: false, error: 'a JWK Set is a JSON object with a "keys" array' };
  if (document.keys.length > MAX_CLIENT_KEYS) return { ok: false, error: `a client's JWK Set holds at most ${MAX_CLIENT_KEYS} keys` };
  return { ok: true, keys: document.keys };
}

/** Size as JSON, in bytes; null when it is not JSON at all. */
function jsonBytes(document: unknown): number | null {
  try {
    const text = JSON.stringify(document);
    return typeof text === 'string' ? Buffer.byteLength(text) : null;
  } catch {
    return null;
  }
}

/** A key's private or symmetric members (RFC 7518 §6.2.2, §6.3.2, §6.4.1) refused; null when it has none. */
function secretMembersRefusal(value: Record<string, unknown>, label: string): RefusedKey | null {
  const present = PRIVATE_MEMBERS.filter((m) => value[m] !== undefined);
  if (value.kty === 'oct') return refused(`${label} is a symmetric key (kty "oct"): register an RSA or EC public key`, true);
  if (present.length > 0) return refused(`${label} contains private key members (${present.join(', ')}): register the public key only`, true);
  return null;
}

/** The members of a public signing key (RFC 7517 §4, RFC 7518 §6) but kid: kty RSA or EC, use "sig", an alg its kty signs with, curve P-256. */
function signingMembersRefusal(value: Record<string, unknown>, label: string): RefusedKey | null {
  if (value.kty !== 'RSA' && value.kty !== 'EC') return refused(`${label} has kty ${shown(value.kty)}: only RSA and EC keys are accepted`);
  if (value.use !== undefined && value.use !== 'sig') return refused(`${label} has use ${shown(value.use)}: client keys are for signatures ("sig")`);
  const algorithms: readonly string[] = ALGORITHMS_OF_KTY[value.kty];
  if (value.alg !== undefined && (typeof value.alg !== 'string' || !algorithms.includes(value.alg))) {
    return refused(`${label} has alg ${shown(value.alg)}: an ${value.kty} key signs with ${algorithms.join(' or ')}`);
  }
  if (value.kty === 'EC' && value.crv !== 'P-256') return refused(`${label} is on curve ${shown(value.crv)}: only P-256 is accepted`);
  return null;
}

/**
 * One key of a client's set (RFC 7517 §4, RFC 7518 §6): an RSA (2048 bits at least) or EC P-256
 * public key for signatures, with a kid, importable by node:crypto. `label` names it in errors.
 */
function checkKey(value: unknown, label: string): CheckedKey | RefusedKey {
  if (!isObject(value)) return refused(`${label} is not a JSON object`);
  const secret = secretMembersRefusal(value, label);
  if (secret) return secret;
  if (typeof value.kid !== 'string' || value.kid.length === 0 || value.kid.length > MAX_KID_LENGTH) {
    return refused(`${label} needs a "kid" of 1 to ${MAX_KID_LENGTH} characters`);
  }
  return signingMembersRefusal(value, label) ?? importKey(value, label);
}

/** Imports only the public members, then checks the key's size. */
function importPublicKey(value: Record<string, unknown>, label: string): { key: KeyObject } | RefusedKey {
  const members = value.kty === 'RSA' ? { kty: 'RSA', n: value.n, e: value.e } : { kty: 'EC', crv: value.crv, x: value.x, y: value.y };
  let key: KeyObject;
  try {
    key = createPublicKey({ key: members as never, format: 'jwk' });
  } catch {
    return refused(`${label} is not a valid ${String(value.kty)} public key`);
  }
  if (key.type !== 'public') return refused(`${label} is not a public key`);
  if (key.asymmetricKeyType === 'rsa') {
    const { modulusLength = 0, publicExponent = 0n } = key.asymmetricKeyDetails ?? {};
    if (modulusLength < MIN_RSA_BITS || modulusLength > MAX_RSA_BITS) {
      return refused(`${label} is a ${modulusLength}-bit RSA key: ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits are accepted`);
    }
    if (publicExponent > MAX_RSA_EXPONENT) return refused(`${label} has an unusually large RSA public exponent`);
  }
  return { key };
}

/** importPublicKey, and the JWK kept rebuilt from the KeyObject. */
function importKey(value: Record<string, unknown>, label: string): CheckedKey | RefusedKey {
  const imported = importPublicKey(value, label);
  return 'error' in imported ? imported : { jwk: normalizedJwk(value, imported.key), key: imported.key };
}

/** The JWK rebuilt member by member (like publicJwkOf): nothing but public members can be kept. */
function normalizedJwk(value: Record<string, unknown>, key: KeyObject): ClientPublicJwk {
  const jwk = key.export({ format: 'jwk' });
  const kid = value.kid as string;
  const use = value.use === 'sig' ? { use: 'sig' as const } : {};
  if (jwk.kty === 'RSA') {
    const alg: RsaClientJwk['alg'] = value.alg === 'RS256' || value.alg === 'PS256' ? value.alg : undefined;
    return { kty: 'RSA', kid, ...use, ...(alg && { alg }), n: jwk.n as string, e: jwk.e as string };
  }
  const alg: EcClientJwk['alg'] = value.alg === 'ES256' ? value.alg : undefined;
  return { kty: 'EC', kid, ...use, ...(alg && { alg }), crv: 'P-256', x: jwk.x as string, y: jwk.y as string };
}

/** How a key is named in errors: by its kid when it has a usable one, else by its place. */
function labelOf(value: unknown, index: number): string {
  const kid = isObject(value) ? value.kid : undefined;
  return typeof kid === 'string' && kid.length > 0 && kid.length <= MAX_KID_LENGTH ? `key "${kid}"` : `keys[${index}]`;
}

/**
 * Checks a client's public keys for registration (RFC 7517 §5, RFC 7523 §2.2): an object with a
 * `keys` array of 1 to MAX_CLIENT_KEYS keys, at most MAX_CLIENT_JWKS_BYTES as JSON, each an RSA
 * (2048 bits or more) or EC P-256 public signing key with a unique kid. A private key member, or a
 * symmetric key, is refused with an error naming the key. The set returned keeps only public members.
 */
export function parseClientJwks(document: unknown): { ok: true; jwks: ClientJwks } | { ok: false; error: string } {
  const bytes = jsonBytes(document);
  if (bytes === null) return { ok: false, error: 'the JWK Set is not JSON' };
  if (bytes > MAX_CLIENT_JWKS_BYTES) return { ok: false, error: `the JWK Set is larger than ${MAX_CLIENT_JWKS_BYTES} bytes` };
  const set = keysOf(document);
  if (!set.ok) return set;
  if (set.keys.length === 0) return { ok: false, error: 'the JWK Set has no keys' };
  const keys: ClientPublicJwk[] = [];
  const kids = new Set<string>();
  for (const [index, value] of set.keys.entries()) {
    const checked = checkKey(value, labelOf(value, index));
    if ('error' in checked) return { ok: false, error: checked.error };
    // RFC 7517 §4.5: kids tell the keys apart; we need them unique to pick the one an assertion names.
    if (kids.has(checked.jwk.kid)) return { ok: false, error: `kid "${checked.jwk.kid}" is used by more than one key` };
    kids.add(checked.jwk.kid);
    keys.push(checked.jwk);
  }
  return { ok: true, jwks: { keys } };
}

/**
 * A client's set as fetched from its jwks_uri: the same checks, but a key that fails them is skipped
 * (as is a second key with a kid already seen), while a private key member or a symmetric key anywhere
 * refuses the whole set (`privateMembers`: whoever published it may have published the others).
 * The caller has bounded the size while reading.
 */
export function readFetchedJwks(document: unknown): { ok: true; jwks: ClientJwks } | { ok: false; error: string; privateMembers: boolean } {
  const set = keysOf(document);
  if (!set.ok) return { ...set, privateMembers: false };
  const keys: ClientPublicJwk[] = [];
  const kids = new Set<string>();
  for (const [index, value] of set.keys.entries()) {
    const checked = checkKey(value, labelOf(value, index));
    if ('error' in checked) {
      if (checked.privateMembers) return { ok: false, error: checked.error, privateMembers: true };
      continue;
    }
    if (kids.has(checked.jwk.kid)) continue;
    kids.add(checked.jwk.kid);
    keys.push(checked.jwk);
  }
  return { ok: true, jwks: { keys } };
}

/**
 * A public signing key that comes on its own rather than in a client's set (RFC 9449 §4.2: the `jwk`
 * header of a DPoP proof): the same checks as a registered key's (no private or symmetric members,
 * RSA of 2048 bits at least or EC P-256, use "sig" and an alg fitting its kty when present), except
 * that no kid is needed. Only the public members are imported; `algorithms` are its alg, or every one
 * its kty signs with.
 */
export function readPublicJwk(
  value: unknown,
  label = 'the key',
): { ok: true; key: KeyObject; algorithms: readonly JwsAlgorithm[] } | { ok: false; error: string; privateMembers: boolean } {
  if (!isObject(value)) return { ok: false, error: `${label} is not a JSON object`, privateMembers: false };
  const refusal = secretMembersRefusal(value, label) ?? signingMembersRefusal(value, label);
  const imported = refusal ?? importPublicKey(value, label);
  if ('error' in imported) return { ok: false, ...imported };
  const kty = value.kty as ClientPublicJwk['kty'];
  const algorithms: readonly JwsAlgorithm[] = typeof value.alg === 'string' ? [value.alg as JwsAlgorithm] : ALGORITHMS_OF_KTY[kty];
  return { ok: true, key: imported.key, algorithms };
}

/** Where a client's verification keys come from: a registered set, or one fetched from its jwks_uri. */
export interface ClientKeys {
  /**
   * The key for `kid` usable with `alg`; with no kid, the one key usable with `alg` if there is
   * exactly one. Undefined when there is none; throws when the keys cannot be had at all.
   */
  keyFor(kid: string | undefined, alg: JwsAlgorithm): Promise<JwsKey | undefined>;
}

interface UsableKey {
  kid: string;
  algorithms: readonly JwsAlgorithm[];
  key: KeyObject;
}

/** A key's algorithms: its `alg`, or every one its type signs with. */
const algorithmsOf = (jwk: ClientPublicJwk): readonly JwsAlgorithm[] => (jwk.alg !== undefined ? [jwk.alg] : ALGORITHMS_OF_KTY[jwk.kty]);

/** The public members node:crypto imports; anything else a stored JWK might carry is never read. */
const publicMembersOf = (jwk: ClientPublicJwk) =>
  jwk.kty === 'RSA' ? { kty: jwk.kty, n: jwk.n, e: jwk.e } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };

/**
 * A client's registered keys (a ClientJwks checked by parseClientJwks), parsed into KeyObjects once.
 * A key that no longer imports is left out.
 */
export class StaticKeySet implements ClientKeys {
  private readonly byKid = new Map<string, UsableKey>();

  constructor(jwks: ClientJwks) {
    for (const jwk of jwks.keys) {
      if (this.byKid.has(jwk.kid)) continue;
      try {
        const key = createPublicKey({ key: publicMembersOf(jwk), format: 'jwk' });
        if (key.type === 'public') this.byKid.set(jwk.kid, { kid: jwk.kid, algorithms: algorithmsOf(jwk), key });
      } catch {
        // Checked when registered: only a stored row altered since could get here.
      }
    }
  }

  /** Keys held. */
  get size(): number {
    return this.byKid.size;
  }

  /** keyFor, without waiting. */
  find(kid: string | undefined, alg: JwsAlgorithm): JwsKey | undefined {
    const usable = (k: UsableKey | undefined): k is UsableKey => k !== undefined && k.algorithms.includes(alg);
    let found: UsableKey | undefined;
    if (kid !== undefined) {
      found = this.byKid.get(kid);
    } else {
      // No kid (RFC 7515 §4.1.4 makes it optional): only unambiguous when a single key fits.
      const candidates = [...this.byKid.values()].filter(usable);
      found = candidates.length === 1 ? candidates[0] : undefined;
    }
    return usable(found) ? { kid: found.kid, alg, key: found.key } : undefined;
  }

  keyFor(kid: string | undefined, alg: JwsAlgorithm): Promise<JwsKey | undefined> {
    return Promise.resolve(this.find(kid, alg));
  }
}
