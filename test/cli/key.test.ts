import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { nowSeconds } from '../support/time';
import { tempCliDb, type TempCliDb } from '../support/cli';

interface KeyJson {
  kid: string;
  alg: string;
  status: string;
  created_at: number;
  activates_at: number;
  retires_at: number | null;
  signed_until: number | null;
  remove_after: number | null;
  key_secret_id: string | null;
  public_jwk: { kty: string; kid: string; alg: string };
}

let t: TempCliDb;
beforeEach(() => {
  t = tempCliDb();
});
afterEach(() => t.cleanup());

test('key rotate (default RS256, --lead 0) and key list; private keys are never printed', async () => {
  const first = t.json<KeyJson>(['key', 'rotate', '--lead', '0']);
  expect(first).toMatchObject({ alg: 'RS256', status: 'active', retires_at: null, remove_after: null });
  expect(first.public_jwk).toMatchObject({ kty: 'RSA', kid: first.kid, alg: 'RS256' });
  expect(Object.keys(first)).not.toContain('private_key_pem');

  const text = t.cli(['key', 'rotate', '--lead', '0']);
  expect(text.status).toBe(0);
  expect(text.stdout).toMatch(/^Added RS256 key \S+; it signs from \S+Z/);

  const keys = t.json<KeyJson[]>(['key', 'list']);
  expect(keys).toHaveLength(2);
  const old = keys.find((k) => k.kid === first.kid);
  expect(old?.status).toBe('retired');
  expect(old?.remove_after).toBeGreaterThan(nowSeconds());
  expect(keys.filter((k) => k.status === 'active')).toHaveLength(1);

  const table = t.cli(['key', 'list']).stdout;
  expect(table).toMatch(/^KID\s+ALG\s+STATUS\s+ACTIVATES\s+RETIRES\s+REMOVE AFTER\s+AT REST$/m);
  expect(table).toMatch(new RegExp(`^${first.kid}\\s+RS256\\s+retired\\s+\\S+Z\\s+\\S+Z\\s+\\S+Z\\s+PLAINTEXT$`, 'm'));
  for (const out of [table, JSON.stringify(keys), text.stdout]) expect(out).not.toContain('PRIVATE KEY');

  const stored = await t.withRegistry((r) => r.listKeys());
  expect(stored.map((k) => k.kid).sort()).toEqual(keys.map((k) => k.kid).sort());
});

test('key rotate --alg ES256 --lead 1h adds a pending key', () => {
  const before = nowSeconds();
  const key = t.json<KeyJson>(['key', 'rotate', '--alg', 'ES256', '--lead', '1h']);
  expect(key).toMatchObject({ alg: 'ES256', status: 'pending' });
  expect(key.public_jwk.kty).toBe('EC');
  expect(key.activates_at - before).toBeGreaterThanOrEqual(3600);
  expect(key.activates_at - nowSeconds()).toBeLessThanOrEqual(3600);
  expect(t.cli(['key', 'list']).stdout).toMatch(/ES256\s+pending/);
});

test('bad algorithm and bad lead are usage errors', () => {
  const alg = t.cli(['key', 'rotate', '--alg', 'HS256']);
  expect(alg.status).toBe(2);
  expect(alg.stderr).toContain('Allowed choices are RS256, ES256');
  const lead = t.cli(['key', 'rotate', '--lead', 'later']);
  expect(lead.status).toBe(2);
  expect(lead.stderr).toContain("option '--lead <duration>' argument 'later' is invalid");
});

test('key list on a registry without keys', () => {
  t.cli(['group', 'create', 'g']);
  expect(t.cli(['key', 'list']).stdout).toBe('No signing keys (the server creates one on first use).\n');
  expect(t.json(['key', 'list'])).toEqual([]);
});

test('key prune removes only retired keys whose tokens have all expired', async () => {
  const old = t.json<KeyJson>(['key', 'rotate', '--lead', '0']);
  t.cli(['key', 'rotate', '--lead', '0']);
  // Just retired: tokens it signed may still be in use, so it stays.
  expect(t.json(['key', 'prune'])).toEqual({ removed: 0 });
  // Pretend it retired an hour ago.
  t.withDatabase((db) => db.prepare('UPDATE signing_keys SET retires_at = ? WHERE kid = ?').run(nowSeconds() - 3600, old.kid));
  expect(t.cli(['key', 'prune']).stdout).toBe('Removed 1 retired key(s).\n');
  const left = t.json<KeyJson[]>(['key', 'list']);
  expect(left).toHaveLength(1);
  expect(left[0].kid).not.toBe(old.kid);
});

// ---- Key security: the default lead, encryption at rest, revoke and rewrap ----

const SECRET_A = 'a'.repeat(8) + randomBytes(32).toString('base64url');
const SECRET_B = 'b'.repeat(8) + randomBytes(32).toString('base64url');
const storedPems = (db: TempCliDb): string[] => db.withDatabase((d) => d.prepare<[], string>('SELECT private_pem FROM signing_keys').pluck().all());

test('key rotate defaults to a lead of the default jwksMaxAge + 60 s (360 s), and its help says so', () => {
  const before = nowSeconds();
  const first = t.json<KeyJson>(['key', 'rotate']);
  expect(first.status).toBe('pending');
  expect(first.activates_at - before).toBeGreaterThanOrEqual(360);
  expect(first.activates_at - nowSeconds()).toBeLessThanOrEqual(360);
  const help = t.cli(['key', 'rotate', '--help']).stdout;
  expect(help).toMatch(/default: 360s: the default jwksMaxAge \+ 60s/);
});

test('key rotate with CCGATE_KEY_SECRET stores the private key encrypted; without one it warns and stores PEM', () => {
  const env = { CCGATE_KEY_SECRET: SECRET_A };
  const encrypted = t.cli(['--json', 'key', 'rotate', '--lead', '0'], { env });
  expect(encrypted.status).toBe(0);
  expect(encrypted.stderr).toBe('');
  const key = JSON.parse(encrypted.stdout) as KeyJson;
  expect(key.key_secret_id).toMatch(/^[A-Za-z0-9_-]{12}$/);
  expect(storedPems(t)).toEqual([expect.stringMatching(/^ccgate-key\.v1\./)]);
  expect(storedPems(t).join()).not.toContain('PRIVATE KEY');

  const plain = t.cli(['--json', 'key', 'rotate', '--lead', '0']);
  expect(plain.status).toBe(0);
  expect(plain.stderr).toContain('Warning: CCGATE_KEY_SECRET is not set');
  expect((JSON.parse(plain.stdout) as KeyJson).key_secret_id).toBeNull();
  expect(t.cli(['key', 'list']).stdout).toMatch(new RegExp(`^${key.kid}\\s.*encrypted:${key.key_secret_id}$`, 'm'));
});

test('with NODE_ENV=production, key rotate without CCGATE_KEY_SECRET is refused unless --allow-unencrypted-keys', () => {
  const refused = t.cli(['key', 'rotate'], { env: { NODE_ENV: 'production' } });
  expect(refused.status).toBe(1);
  expect(refused.stderr).toMatch(/^error: NODE_ENV=production and CCGATE_KEY_SECRET is not set.*--allow-unencrypted-keys\n$/);
  expect(t.json(['key', 'list'])).toEqual([]);
  const allowed = t.cli(['key', 'rotate', '--allow-unencrypted-keys'], { env: { NODE_ENV: 'production' } });
  expect(allowed.status).toBe(0);
  expect(allowed.stderr).toBe('');
});

test('a key secret shorter than 32 characters is refused, naming the variable', () => {
  const r = t.cli(['key', 'rotate'], { env: { CCGATE_KEY_SECRET: 'short' } });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/^error: CCGATE_KEY_SECRET: .*at least 32 characters/);
});

test('key revoke KID removes the key (JSON and text), and an unknown kid exits 1', async () => {
  const first = t.json<KeyJson>(['key', 'rotate', '--lead', '0']);
  const second = t.json<KeyJson>(['key', 'rotate', '--lead', '0']);
  expect(t.json(['key', 'revoke', first.kid])).toEqual({ revoked: first.kid, alg: 'RS256', status: 'retired' });
  const text = t.cli(['key', 'revoke', second.kid]);
  expect(text.status).toBe(0);
  expect(text.stdout).toBe(`Revoked RS256 key ${second.kid} (was active): removed from the registry and the JWKS; tokens it signed are refused.\n`);
  expect(t.json(['key', 'list'])).toEqual([]);
  expect(await t.withRegistry((r) => r.listKeys())).toEqual([]);

  const unknown = t.cli(['key', 'revoke', 'no-such-kid']);
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toBe('error: signing key "no-such-kid" not found\n');
  expect(t.cli(['--json', 'key', 'revoke', 'no-such-kid']).status).toBe(1);
});

test('key rewrap: encrypts plain PEM keys, moves keys to a new secret with the old one as previous, and needs a secret', () => {
  const legacy = t.json<KeyJson>(['key', 'rotate', '--lead', '0']);
  const underA = t.json<KeyJson>(['key', 'rotate', '--lead', '0'], { env: { CCGATE_KEY_SECRET: SECRET_A } });

  const noSecret = t.cli(['key', 'rewrap']);
  expect(noSecret.status).toBe(1);
  expect(noSecret.stderr).toContain('CCGATE_KEY_SECRET is not set');

  // B without A as previous: the key under A cannot be opened, so nothing is written.
  const missingPrevious = t.cli(['key', 'rewrap'], { env: { CCGATE_KEY_SECRET: SECRET_B } });
  expect(missingPrevious.status).toBe(1);
  expect(missingPrevious.stderr).toMatch(
    /^error: signing key \S+ is encrypted under key secret \S+, and neither CCGATE_KEY_SECRET nor CCGATE_KEY_SECRETS_PREVIOUS is that secret\n$/,
  );
  expect(storedPems(t).filter((pem) => pem.includes('PRIVATE KEY'))).toHaveLength(1);

  const env = { CCGATE_KEY_SECRET: SECRET_B, CCGATE_KEY_SECRETS_PREVIOUS: `${SECRET_A}, ${'x'.repeat(40)}` };
  const result = t.json<{ key_secret_id: string; rewrapped: string[]; encrypted: string[]; unchanged: string[] }>(['key', 'rewrap'], { env });
  expect(result).toEqual({ key_secret_id: expect.any(String), rewrapped: [underA.kid], encrypted: [legacy.kid], unchanged: [] });
  expect(result.key_secret_id).not.toBe(underA.key_secret_id);
  expect(storedPems(t).join()).not.toContain('PRIVATE KEY');
  const listed = t.json<KeyJson[]>(['key', 'list']);
  expect(listed.map((k) => k.key_secret_id)).toEqual([result.key_secret_id, result.key_secret_id]);

  const again = t.cli(['key', 'rewrap'], { env: { CCGATE_KEY_SECRET: SECRET_B } });
  expect(again.status).toBe(0);
  expect(again.stdout).toBe(
    `Every signing key is now encrypted under key secret ${result.key_secret_id}: 0 rewrapped from an older secret, 0 encrypted from plain PEM, 2 already current.\n`,
  );
});

test('the registry file the CLI creates, and its -wal / -shm, are readable by their owner only (0600)', () => {
  t.cli(['group', 'create', 'g']);
  for (const file of [t.db, `${t.db}-wal`, `${t.db}-shm`]) {
    if (existsSync(file)) expect({ file, mode: statSync(file).mode & 0o777 }).toEqual({ file, mode: 0o600 });
  }
  expect(statSync(t.db).mode & 0o777).toBe(0o600);
});
