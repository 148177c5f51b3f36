import { nowSeconds } from '../support/time';
import { fakeJwt } from '../support/jwt';
import { tempCliDb, type TempCliDb } from '../support/cli';

interface RevokedRow {
  jti: string;
  client_id: string | null;
  expires_at: number;
}

let t: TempCliDb;
let clientId: string;
beforeEach(() => {
  t = tempCliDb();
  clientId = t.json<{ client_id: string }>(['client', 'create', 'svc']).client_id;
});
afterEach(() => t.cleanup());

const revoked = () => t.withDatabase((db) => db.prepare<[], RevokedRow>('SELECT jti, client_id, expires_at FROM revoked_tokens ORDER BY jti').all());

test('revoke a bare jti: kept for 24h (the longest token lifetime) by default', async () => {
  const before = nowSeconds();
  const r = t.cli(['token', 'revoke', 'jti-123', '--client', clientId]);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^Revoked token jti-123 of client ${clientId}\\.\\nThe revocation is kept until \\S+Z\\.\\n$`));
  const rows = revoked();
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ jti: 'jti-123', client_id: clientId });
  expect(rows[0].expires_at).toBeGreaterThanOrEqual(before + 86_400);
  expect(rows[0].expires_at).toBeLessThanOrEqual(nowSeconds() + 86_400);
  expect(await t.withRegistry((reg) => reg.tokenStatus('jti-123', clientId))).toBe('revoked');
  expect(await t.withRegistry((reg) => reg.tokenStatus('other-jti', clientId))).toBe('active');
});

test('revoke a bare jti with --expires-at and --json', async () => {
  const out = t.json(['token', 'revoke', 'jti-9', '--expires-at', '2000000000']);
  expect(out).toEqual({ jti: 'jti-9', client_id: null, expires_at: 2_000_000_000 });
  expect(revoked()).toEqual([{ jti: 'jti-9', client_id: null, expires_at: 2_000_000_000 }]);
});

test('revoke a JWT: jti, client_id and exp come from its (unverified) payload', async () => {
  const exp = nowSeconds() + 600;
  const jwt = fakeJwt({ iss: 'https://issuer.test', sub: clientId, client_id: clientId, jti: 'from-jwt', exp, scope: 'a' });
  expect(t.json(['token', 'revoke', jwt])).toEqual({ jti: 'from-jwt', client_id: clientId, expires_at: exp });
  expect(revoked()).toEqual([{ jti: 'from-jwt', client_id: clientId, expires_at: exp }]);
  expect(await t.withRegistry((r) => r.tokenStatus('from-jwt', clientId))).toBe('revoked');
});

test('a JWT without exp falls back to 24h; --expires-at and --client override its claims', async () => {
  const before = nowSeconds();
  t.cli(['token', 'revoke', fakeJwt({ jti: 'no-exp', client_id: 'c1' })]);
  t.cli(['token', 'revoke', fakeJwt({ jti: 'override', client_id: 'c1', exp: 1_900_000_000 }), '--expires-at', '1950000000', '--client', 'c2']);
  const [noExp, override] = revoked();
  expect(noExp).toMatchObject({ jti: 'no-exp', client_id: 'c1' });
  expect(noExp.expires_at).toBeGreaterThanOrEqual(before + 86_400);
  expect(override).toEqual({ jti: 'override', client_id: 'c2', expires_at: 1_950_000_000 });
});

test('malformed JWTs are usage errors and revoke nothing', async () => {
  const notJson = t.cli(['token', 'revoke', 'eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln']);
  expect(notJson.status).toBe(2);
  expect(notJson.stderr).toBe('error: the argument looks like a JWT but its payload is not JSON\n');
  const noJti = t.cli(['token', 'revoke', fakeJwt({ client_id: 'c', exp: 2_000_000_000 })]);
  expect(noJti.status).toBe(2);
  expect(noJti.stderr).toContain('the JWT has no "jti" claim');
  const array = t.cli(['token', 'revoke', fakeJwt([1, 2])]);
  expect(array.status).toBe(2);
  expect(revoked()).toEqual([]);
});

test('an argument that is neither a JWT nor a token id is a usage error and revokes nothing', () => {
  for (const garbage of ['not a token', 'a.b', 'eyJ.truncated', '']) {
    const r = t.cli(['token', 'revoke', garbage]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('neither a JWT nor a token id');
  }
  expect(revoked()).toEqual([]);
});

test('bad --expires-at is a usage error; an over-long jti is refused', () => {
  const bad = t.cli(['token', 'revoke', 'j', '--expires-at', 'tomorrow']);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toContain("option '--expires-at <unix>' argument 'tomorrow' is invalid");
  const long = t.cli(['token', 'revoke', 'j'.repeat(257)]);
  expect(long.status).toBe(1);
  expect(long.stderr).toContain('a token id (jti) must be 1 to 256 characters');
});

test('token prune drops expired revocations and reports how many', async () => {
  const past = String(nowSeconds() - 10);
  const expired = t.cli(['token', 'revoke', 'old-1', '--expires-at', past]);
  expect(expired.stdout).toContain('already expired');
  t.cli(['token', 'revoke', 'old-2', '--expires-at', past]);
  t.cli(['token', 'revoke', 'live']);
  expect(t.json(['token', 'prune'])).toEqual({ removed: 2 });
  expect(revoked().map((row) => row.jti)).toEqual(['live']);
  expect(t.cli(['token', 'prune']).stdout).toBe('Removed 0 expired revocation(s).\n');
});
