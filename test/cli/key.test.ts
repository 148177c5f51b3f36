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
  public_jwk: { kty: string; kid: string; alg: string };
}

let t: TempCliDb;
beforeEach(() => {
  t = tempCliDb();
});
afterEach(() => t.cleanup());

test('key rotate (default RS256, no lead) and key list; private keys are never printed', async () => {
  const first = t.json<KeyJson>(['key', 'rotate']);
  expect(first).toMatchObject({ alg: 'RS256', status: 'active', retires_at: null, remove_after: null });
  expect(first.public_jwk).toMatchObject({ kty: 'RSA', kid: first.kid, alg: 'RS256' });
  expect(Object.keys(first)).not.toContain('private_key_pem');

  const text = t.cli(['key', 'rotate']);
  expect(text.status).toBe(0);
  expect(text.stdout).toMatch(/^Added RS256 key \S+; it signs from \S+Z/);

  const keys = t.json<KeyJson[]>(['key', 'list']);
  expect(keys).toHaveLength(2);
  const old = keys.find((k) => k.kid === first.kid);
  expect(old?.status).toBe('retired');
  expect(old?.remove_after).toBeGreaterThan(nowSeconds());
  expect(keys.filter((k) => k.status === 'active')).toHaveLength(1);

  const table = t.cli(['key', 'list']).stdout;
  expect(table).toMatch(/^KID\s+ALG\s+STATUS\s+ACTIVATES\s+RETIRES\s+REMOVE AFTER$/m);
  expect(table).toMatch(new RegExp(`^${first.kid}\\s+RS256\\s+retired\\s+\\S+Z\\s+\\S+Z\\s+\\S+Z$`, 'm'));
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
  const old = t.json<KeyJson>(['key', 'rotate']);
  t.cli(['key', 'rotate']);
  // Just retired: tokens it signed may still be in use, so it stays.
  expect(t.json(['key', 'prune'])).toEqual({ removed: 0 });
  // Pretend it retired an hour ago.
  t.withDatabase((db) => db.prepare('UPDATE signing_keys SET retires_at = ? WHERE kid = ?').run(nowSeconds() - 3600, old.kid));
  expect(t.cli(['key', 'prune']).stdout).toBe('Removed 1 retired key(s).\n');
  const left = t.json<KeyJson[]>(['key', 'list']);
  expect(left).toHaveLength(1);
  expect(left[0].kid).not.toBe(old.kid);
});
