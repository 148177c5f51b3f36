/**
 * Private signing keys at rest (contract suite: every backend). Encryption lives in the Registry
 * service, so every backend stores only ciphertext; what is stored is read through the backend's own
 * connection (rawRows), never through the registry.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { ConfigurationError, KeyProtectionError } from '../../lib';
import { KeyProtector, keySecretIdOf, keySecretsFromEnv } from '../../lib/registry/key-protection';
import type { KeyRecord } from '../../lib/registry/types';
import { ContractRegistry, registryBackends } from '../support/backends';

const secret = (): string => randomBytes(32).toString('base64');
const SECRET_A = secret();
const SECRET_B = secret();

/** The private key really is the key whose public half is published. */
function matchesPublicKey(pem: string, key: KeyRecord): boolean {
  const data = Buffer.from('proof');
  const signature = sign('sha256', data, { key: createPrivateKey(pem), dsaEncoding: 'ieee-p1363' });
  return verify('sha256', data, { key: createPublicKey({ key: { ...key.publicJwk }, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, signature);
}

describe.each(registryBackends())('private signing keys at rest ($name)', (backend) => {
  const t = new ContractRegistry(backend);
  const storedPems = async (): Promise<string[]> => (await t.rows('signing_keys')).map((row) => String(row.private_pem));

  test.each([['RS256'], ['ES256']] as const)('with a key secret, no %s private key is stored as PEM; it decrypts with the secret only', async (alg) => {
    const withA = await t.another({ keySecret: SECRET_A });
    const key = await withA.ensureSigningKey(alg);
    const rotated = await withA.rotateKey({ alg, leadSeconds: 60 });
    const stored = await storedPems();
    expect(stored).toHaveLength(2);
    for (const value of stored) {
      expect(value).toMatch(/^ccgate-key\.v1\.[A-Za-z0-9_-]{12}(\.[A-Za-z0-9_-]+){4}$/);
      expect(value).not.toContain('PRIVATE KEY');
    }
    expect(key.keySecretId).toBe(withA.keySecretId);
    expect(rotated.keySecretId).toBe(withA.keySecretId);
    expect(matchesPublicKey(withA.openPrivateKey(key), key)).toBe(true);
    expect(matchesPublicKey(withA.openPrivateKey(rotated), rotated)).toBe(true);
  });

  test('listing keys needs no secret; opening one without the right secret is a clear KeyProtectionError', async () => {
    const withA = await t.another({ keySecret: SECRET_A });
    const key = await withA.ensureSigningKey('RS256');
    const withB = await t.another({ keySecret: SECRET_B });
    const [listed] = await t.registry.listKeys(); // no secret at all
    expect(listed).toMatchObject({ kid: key.kid, status: 'active', keySecretId: withA.keySecretId, publicJwk: key.publicJwk });
    expect(() => t.registry.openPrivateKey(listed)).toThrow(KeyProtectionError);
    expect(() => t.registry.openPrivateKey(listed)).toThrow(expect.objectContaining({ reason: 'no_secret', kid: key.kid }));
    expect(() => withB.openPrivateKey(listed)).toThrow(expect.objectContaining({ reason: 'unknown_secret', kid: key.kid }));
    expect(() => withB.openPrivateKey(listed)).toThrow(`is encrypted under key secret ${String(withA.keySecretId)}`);
    // The key that signs is still the one there: a wrong secret never makes a second key.
    expect((await withB.ensureSigningKey('RS256')).kid).toBe(key.kid);
  });

  test('secret rotation: the old secret as previous works before rewrap; after it, the new secret alone opens every key', async () => {
    const withA = await t.another({ keySecret: SECRET_A });
    const key = await withA.ensureSigningKey('ES256');
    const before = (await storedPems())[0];
    const rotating = await t.another({ keySecret: SECRET_B, previousKeySecrets: [SECRET_A] });
    expect(matchesPublicKey(rotating.openPrivateKey((await rotating.listKeys())[0]), key)).toBe(true);

    const result = await rotating.rewrapKeys();
    expect(result).toEqual({ keySecretId: rotating.keySecretId, rewrapped: [key.kid], encrypted: [], unchanged: [] });
    const after = (await storedPems())[0];
    expect(keySecretIdOf(after)).toBe(rotating.keySecretId);
    // Envelope encryption: only the data key was rewrapped, the encrypted PEM is the same bytes.
    expect(after.split('.').slice(-2)).toEqual(before.split('.').slice(-2));

    await t.changesSeen();
    const onlyB = await t.another({ keySecret: SECRET_B });
    const [stored] = await onlyB.listKeys();
    expect(matchesPublicKey(onlyB.openPrivateKey(stored), key)).toBe(true);
    expect(() => withA.openPrivateKey(stored)).toThrow(expect.objectContaining({ reason: 'unknown_secret' }));
    expect(await onlyB.rewrapKeys()).toMatchObject({ rewrapped: [], encrypted: [], unchanged: [key.kid] });
  });

  test('legacy plaintext rows keep signing, and rewrap encrypts them', async () => {
    const legacy = await t.registry.ensureSigningKey('RS256'); // no secret: stored as PEM, as before encryption
    expect((await storedPems())[0]).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(legacy.keySecretId).toBeNull();
    const withA = await t.another({ keySecret: SECRET_A });
    expect((await withA.ensureSigningKey('RS256')).kid).toBe(legacy.kid);
    expect(matchesPublicKey(withA.openPrivateKey((await withA.listKeys())[0]), legacy)).toBe(true);

    expect(await withA.rewrapKeys()).toEqual({ keySecretId: withA.keySecretId, rewrapped: [], encrypted: [legacy.kid], unchanged: [] });
    const [stored] = await storedPems();
    expect(stored).not.toContain('PRIVATE KEY');
    expect(keySecretIdOf(stored)).toBe(withA.keySecretId);
    await t.changesSeen();
    expect(matchesPublicKey(withA.openPrivateKey((await withA.listKeys())[0]), legacy)).toBe(true);
  });

  test('rewrap needs a current secret, and writes nothing while some key cannot be opened', async () => {
    await expect(t.registry.rewrapKeys()).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining('CCGATE_KEY_SECRET') });
    const withA = await t.another({ keySecret: SECRET_A });
    await withA.ensureSigningKey('RS256');
    await t.registry.ensureSigningKey('ES256'); // plain PEM
    const before = await storedPems();
    const withB = await t.another({ keySecret: SECRET_B });
    await expect(withB.rewrapKeys()).rejects.toThrow(KeyProtectionError);
    expect((await storedPems()).sort()).toEqual(before.sort());
  });

  test('revokeKey deletes the key at once; the next signing key is a new one; an unknown kid is not_found', async () => {
    const withA = await t.another({ keySecret: SECRET_A });
    const key = await withA.ensureSigningKey('RS256');
    const other = await t.another({ keySecret: SECRET_A });
    expect(await other.listKeys()).toHaveLength(1);
    const revoked = await withA.revokeKey(key.kid);
    expect(revoked).toMatchObject({ kid: key.kid, alg: 'RS256', status: 'active' });
    expect(await t.rows('signing_keys')).toEqual([]);
    await t.changesSeen();
    expect(await other.listKeys()).toEqual([]);
    const next = await other.ensureSigningKey('RS256');
    expect(next.kid).not.toBe(key.kid);
    await expect(withA.revokeKey(key.kid)).rejects.toMatchObject({ kind: 'not_found', message: `signing key "${key.kid}" not found` });
  });

  test('revoking a retired key removes it before its tokens expire; a pending successor keeps its schedule', async () => {
    const old = await t.registry.ensureSigningKey('RS256');
    await t.registry.rotateKey({ alg: 'RS256', leadSeconds: 0 });
    t.clock.t += 1;
    const pending = await t.registry.rotateKey({ alg: 'RS256', leadSeconds: 600 });
    expect((await t.registry.revokeKey(old.kid)).status).toBe('retired');
    const left = await t.registry.listKeys();
    expect(left.map((k) => k.kid)).not.toContain(old.kid);
    expect(left.find((k) => k.kid === pending.kid)).toMatchObject({ status: 'pending', activatesAt: pending.activatesAt });
  });
});

describe('KeyProtector (AES-256-GCM envelopes)', () => {
  const protector = new KeyProtector({ keySecret: SECRET_A });
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n';

  test('an envelope opens to the PEM; each seal uses fresh randomness', () => {
    const a = protector.seal('kid-1', pem);
    const b = protector.seal('kid-1', pem);
    expect(a).not.toBe(b);
    expect(protector.open('kid-1', a)).toBe(pem);
    expect(protector.open('kid-1', b)).toBe(pem);
    expect(keySecretIdOf(a)).toBe(protector.currentId);
  });

  test('an altered value, or a value moved onto another key, does not decrypt (GCM tags bind the kid)', () => {
    const sealed = protector.seal('kid-1', pem);
    const parts = sealed.split('.');
    const flip = (field: string): string => {
      const bytes = Buffer.from(field, 'base64url');
      bytes[0] ^= 1;
      return bytes.toString('base64url');
    };
    for (const index of [3, 4, 5, 6]) {
      const altered = parts.map((p, i) => (i === index ? flip(p) : p)).join('.');
      expect(() => protector.open('kid-1', altered)).toThrow(expect.objectContaining({ reason: 'undecryptable' }));
    }
    expect(() => protector.open('kid-2', sealed)).toThrow(expect.objectContaining({ reason: 'undecryptable', kid: 'kid-2' }));
    expect(() => protector.open('kid-1', 'not a key')).toThrow(expect.objectContaining({ reason: 'unreadable' }));
  });

  test('the key secret id is stable per secret, differs between secrets, and reveals neither', () => {
    expect(new KeyProtector({ keySecret: SECRET_A }).currentId).toBe(protector.currentId);
    expect(new KeyProtector({ keySecret: SECRET_B }).currentId).not.toBe(protector.currentId);
    expect(protector.currentId).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(SECRET_A).not.toContain(String(protector.currentId));
  });

  test('without a secret, seal keeps the PEM and open reads it; a short secret is a ConfigurationError naming the option', () => {
    const none = new KeyProtector();
    expect(none.currentId).toBeNull();
    expect(none.seal('k', pem)).toBe(pem);
    expect(none.open('k', pem)).toBe(pem);
    expect(() => new KeyProtector({ keySecret: 'too short' })).toThrow(ConfigurationError);
    expect(() => new KeyProtector({ keySecret: 'too short' })).toThrow(expect.objectContaining({ option: 'keySecret' }));
    expect(() => new KeyProtector({ keySecret: SECRET_A, previousKeySecrets: ['x'] })).toThrow(expect.objectContaining({ option: 'previousKeySecrets' }));
  });

  test('the environment: CCGATE_KEY_SECRET, and CCGATE_KEY_SECRETS_PREVIOUS separated by commas or spaces', () => {
    expect(keySecretsFromEnv({})).toEqual({ keySecret: undefined, previousKeySecrets: [] });
    expect(keySecretsFromEnv({ CCGATE_KEY_SECRET: '' })).toEqual({ keySecret: undefined, previousKeySecrets: [] });
    expect(keySecretsFromEnv({ CCGATE_KEY_SECRET: SECRET_B, CCGATE_KEY_SECRETS_PREVIOUS: ` ${SECRET_A}, x  y ` })).toEqual({
      keySecret: SECRET_B,
      previousKeySecrets: [SECRET_A, 'x', 'y'],
    });
  });
});
