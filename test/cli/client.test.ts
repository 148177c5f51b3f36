import bcrypt from 'bcryptjs';
import { nowSeconds } from '../support/time';
import { tempCliDb, type ClientJson, type CreatedJson, type TempCliDb } from '../support/cli';

let t: TempCliDb;
beforeEach(() => {
  t = tempCliDb();
  t.cli(['group', 'create', 'reporting', '--scopes', 'reports:read reports:write']);
  t.cli(['group', 'create', 'billing', '--scopes', 'bill:read']);
});
afterEach(() => t.cleanup());

/** Whether `secret` matches one of the client's stored, currently valid hashes. */
const secretWorks = (clientId: string, secret: string) =>
  t.withRegistry(async (r) => {
    const hashes = (await r.findClientCredentials(clientId))?.secretHashes ?? [];
    for (const hash of hashes) if (await bcrypt.compare(secret, hash)) return true;
    return false;
  });

const create = (...args: string[]) => t.json<CreatedJson>(['client', 'create', ...args]);

describe('client create', () => {
  test('--json prints exactly client_id and client_secret; the secret works', async () => {
    const r = t.cli(['--json', 'client', 'create', 'svc', '--groups', 'reporting,billing']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as CreatedJson;
    expect(Object.keys(out)).toEqual(['client_id', 'client_secret']);
    expect(out.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await secretWorks(out.client_id, out.client_secret as string)).toBe(true);
    const stored = await t.withRegistry((reg) => reg.getClient(out.client_id));
    expect(stored).toMatchObject({ name: 'svc', type: 'confidential', enabled: true, groups: ['billing', 'reporting'], tokenTtl: null });
    expect(stored?.scopes).toEqual(['bill:read', 'reports:read', 'reports:write']);
  });

  test('text mode prints id and secret, and warns on stderr that the secret is shown once', async () => {
    const r = t.cli(['client', 'create', 'svc', '--groups', 'reporting']);
    expect(r.status).toBe(0);
    const id = /^client_id:\s+(\S+)$/m.exec(r.stdout)?.[1];
    const secret = /^client_secret:\s+(\S+)$/m.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    expect(secret).toBeDefined();
    expect(r.stderr).toMatch(/shown only once/);
    expect(await secretWorks(id as string, secret as string)).toBe(true);
  });

  test('--public: no secret (null in JSON)', async () => {
    const out = create('spa', '--public', '--groups', 'reporting');
    expect(out.client_secret).toBeNull();
    expect((await t.withRegistry((r) => r.getClient(out.client_id)))?.type).toBe('public');
    const text = t.cli(['client', 'create', 'spa2', '--public']);
    expect(text.stdout).toContain('(none: public client)');
    expect(text.stderr).not.toContain('shown only once');
    const withSecret = t.cli(['client', 'create', 'spa3', '--public', '--secret', 'abcdefghijklmnopqrstuvwxyz']);
    expect(withSecret.status).toBe(2);
    expect(withSecret.stderr).toContain("option '--public' cannot be used with option '--secret <secret>'");
  });

  test('--ttl in seconds or as a duration; out-of-range and malformed are refused', async () => {
    const a = create('a', '--ttl', '600');
    const b = create('b', '--ttl', '15m');
    expect((await t.withRegistry((r) => r.getClient(a.client_id)))?.tokenTtl).toBe(600);
    expect((await t.withRegistry((r) => r.getClient(b.client_id)))?.tokenTtl).toBe(900);
    const tooLong = t.cli(['client', 'create', 'c', '--ttl', '2d']);
    expect(tooLong.status).toBe(1);
    expect(tooLong.stderr).toContain('token lifetime must be a whole number of seconds from 1 to 86400');
    const malformed = t.cli(['client', 'create', 'c', '--ttl', 'soon']);
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toContain("option '--ttl <seconds>' argument 'soon' is invalid");
  });

  test('secret from --secret, CCGATE_CLIENT_SECRET and --secret-stdin', async () => {
    const flag = create('a', '--secret', 'flag-secret-0123456789');
    expect(flag.client_secret).toBe('flag-secret-0123456789');
    expect(await secretWorks(flag.client_id, 'flag-secret-0123456789')).toBe(true);

    const env = t.json<CreatedJson>(['client', 'create', 'b'], { env: { CCGATE_CLIENT_SECRET: 'env-secret-0123456789' } });
    expect(env.client_secret).toBe('env-secret-0123456789');
    expect(await secretWorks(env.client_id, 'env-secret-0123456789')).toBe(true);

    const stdin = t.json<CreatedJson>(['client', 'create', 'c', '--secret-stdin'], { input: 'stdin-secret-0123456789\r\nignored\n' });
    expect(stdin.client_secret).toBe('stdin-secret-0123456789');
    expect(await secretWorks(stdin.client_id, 'stdin-secret-0123456789')).toBe(true);

    const empty = t.cli(['client', 'create', 'd', '--secret-stdin'], { input: '' });
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain('no secret on standard input');
    const both = t.cli(['client', 'create', 'e', '--secret', 'flag-secret-0123456789', '--secret-stdin'], { input: 'x\n' });
    expect(both.status).toBe(2);
  });

  test('secret too short or longer than 72 bytes is refused, and nothing is created', async () => {
    const short = t.cli(['client', 'create', 'a', '--secret', 'short']);
    expect(short.status).toBe(1);
    expect(short.stderr).toBe('error: a client secret must be 16 to 72 bytes long (got 5)\n');
    const long = t.cli(['client', 'create', 'a', '--secret', 'é'.repeat(37)]); // 74 bytes, 37 characters
    expect(long.status).toBe(1);
    expect(long.stderr).toContain('(got 74)');
    expect(await t.withRegistry((r) => r.listClients())).toEqual([]);
  });

  test('unknown group is refused, and nothing is created', async () => {
    const r = t.cli(['client', 'create', 'a', '--groups', 'reporting,nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: group "nope" not found\n');
    expect(await t.withRegistry((reg) => reg.listClients())).toEqual([]);
  });
});

describe('client list and show', () => {
  test('list: JSON records and a table', () => {
    expect(t.cli(['client', 'list']).stdout).toBe('No clients.\n');
    const a = create('alpha', '--groups', 'reporting', '--ttl', '300');
    create('beta', '--public');
    const list = t.json<ClientJson[]>(['client', 'list']);
    expect(list.map((c) => c.name).sort()).toEqual(['alpha', 'beta']);
    expect(list.find((c) => c.name === 'alpha')).toMatchObject({ client_id: a.client_id, token_ttl: 300, groups: ['reporting'] });
    const table = t.cli(['client', 'list']).stdout;
    expect(table).toMatch(/^CLIENT ID\s+NAME\s+TYPE\s+AUTH METHOD\s+ENABLED\s+TTL\s+GROUPS$/m);
    expect(table).toMatch(new RegExp(`^${a.client_id}\\s+alpha\\s+confidential\\s+client_secret_basic\\s+yes\\s+300s\\s+reporting$`, 'm'));
    expect(table).toMatch(/\sbeta\s+public\s+none\s+yes\s/);
  });

  test('show: groups, scopes, enabled, ttl and secrets, never a hash', () => {
    const a = create('alpha', '--groups', 'reporting,billing');
    const shown = t.json<ClientJson>(['client', 'show', a.client_id]);
    expect(shown).toEqual({
      client_id: a.client_id,
      name: 'alpha',
      type: 'confidential',
      auth_method: 'client_secret_basic',
      dpop: 'allowed',
      enabled: true,
      groups: ['billing', 'reporting'],
      scopes: ['bill:read', 'reports:read', 'reports:write'],
      grant_types: ['client_credentials'],
      token_ttl: null,
      secrets: [{ id: expect.any(Number), created_at: expect.any(Number), expires_at: null }],
      jwks: null,
      jwks_uri: null,
      created_at: expect.any(Number),
      updated_at: expect.any(Number),
    });
    const text = t.cli(['client', 'show', a.client_id]).stdout;
    expect(text).toMatch(/^enabled:\s+yes$/m);
    expect(text).toMatch(/^auth method:\s+client_secret_basic$/m);
    expect(text).toMatch(/^token ttl:\s+server default$/m);
    expect(text).toMatch(/^scopes:\s+bill:read reports:read reports:write$/m);
    expect(text).toContain('never (current)');
    for (const out of [text, JSON.stringify(shown), t.cli(['client', 'list']).stdout]) {
      expect(out).not.toMatch(/\$2[aby]\$/);
      expect(out).not.toContain(a.client_secret as string);
    }
  });
});

test('disable and enable', async () => {
  const a = create('alpha');
  expect(t.json<ClientJson>(['client', 'disable', a.client_id]).enabled).toBe(false);
  expect(await t.withRegistry((r) => r.tokenStatus('some-jti', a.client_id))).toBe('client_disabled');
  const enabled = t.cli(['client', 'enable', a.client_id]);
  expect(enabled.stdout).toBe(`Enabled client ${a.client_id}.\n`);
  expect((await t.withRegistry((r) => r.getClient(a.client_id)))?.enabled).toBe(true);
});

describe('client rotate-secret', () => {
  test('without overlap: the new secret replaces the old one at once', async () => {
    const a = create('alpha');
    const r = t.cli(['--json', 'client', 'rotate-secret', a.client_id]);
    expect(r.status).toBe(0);
    const rotated = JSON.parse(r.stdout) as CreatedJson;
    expect(Object.keys(rotated)).toEqual(['client_id', 'client_secret']);
    expect(rotated.client_id).toBe(a.client_id);
    expect(await secretWorks(a.client_id, rotated.client_secret as string)).toBe(true);
    expect(await secretWorks(a.client_id, a.client_secret as string)).toBe(false);
    expect(t.json<ClientJson>(['client', 'show', a.client_id]).secrets).toHaveLength(1);
  });

  test('with --overlap both secrets work and client show lists both with expiry', async () => {
    const a = create('alpha');
    const before = nowSeconds();
    const text = t.cli(['client', 'rotate-secret', a.client_id, '--overlap', '2h', '--secret', 'new-secret-0123456789']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^client_secret:\s+new-secret-0123456789$/m);
    expect(text.stdout).toMatch(/previous secret stays valid until \S+Z \(2h\)/);
    expect(text.stderr).toMatch(/shown only once/);
    const secrets = t.json<ClientJson>(['client', 'show', a.client_id]).secrets;
    expect(secrets).toHaveLength(2);
    expect(secrets[0].expires_at).toBeNull();
    expect(secrets[1].expires_at).toBeGreaterThanOrEqual(before + 7200);
    expect(secrets[1].expires_at).toBeLessThanOrEqual(nowSeconds() + 7200);
    expect(await secretWorks(a.client_id, a.client_secret as string)).toBe(true);
    expect(await secretWorks(a.client_id, 'new-secret-0123456789')).toBe(true);
    expect(t.cli(['client', 'show', a.client_id]).stdout).toMatch(/never \(current\)[\s\S]*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
  });

  test.each([
    ['3600', 3600],
    ['90s', 90],
    ['30m', 1800],
    ['24h', 86_400],
    ['7d', 604_800],
  ])('overlap %s keeps the previous secret %i seconds', (duration, seconds) => {
    const a = create('alpha');
    const before = nowSeconds();
    expect(t.cli(['client', 'rotate-secret', a.client_id, '--overlap', duration]).status).toBe(0);
    const expiry = t.json<ClientJson>(['client', 'show', a.client_id]).secrets[1].expires_at as number;
    expect(expiry - before).toBeGreaterThanOrEqual(seconds);
    expect(expiry - before).toBeLessThanOrEqual(seconds + 5);
  });

  test.each(['5x', '-1', '1.5h', 'h', ''])('bad duration %j is a usage error', (d) => {
    const a = create('alpha');
    const r = t.cli(['client', 'rotate-secret', a.client_id, '--overlap', d]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Expected seconds or a duration like 90s, 30m, 24h, 7d.');
  });

  test('a public client has no secret to rotate; a bad secret is refused', () => {
    const spa = create('spa', '--public');
    const r = t.cli(['client', 'rotate-secret', spa.client_id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is public and has no secret');
    const a = create('alpha');
    const bad = t.cli(['client', 'rotate-secret', a.client_id, '--secret', 'x'.repeat(73)]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('16 to 72 bytes long (got 73)');
  });

  test('a secret from CCGATE_CLIENT_SECRET is announced, and a rotation to the current secret is refused', () => {
    const env = { CCGATE_CLIENT_SECRET: 'the-exported-secret-0123' };
    const created = t.cli(['--json', 'client', 'create', 'from-env'], { env });
    expect(created.status).toBe(0);
    expect(created.stderr).toContain('Using the secret from CCGATE_CLIENT_SECRET.');
    const id = (JSON.parse(created.stdout) as { client_id: string }).client_id;
    const same = t.cli(['client', 'rotate-secret', id], { env });
    expect(same.status).toBe(1);
    expect(same.stderr).toContain('the new secret is the current one');
    expect(t.cli(['client', 'rotate-secret', id, '--secret', 'another-secret-0123456']).status).toBe(0);
  });
});

test('delete', async () => {
  const a = create('alpha');
  expect(t.cli(['client', 'delete', a.client_id]).stdout).toBe(`Deleted client ${a.client_id}.\n`);
  expect(await t.withRegistry((r) => r.getClient(a.client_id))).toBeNull();
});

test('add-group and remove-group', async () => {
  const a = create('alpha');
  const added = t.json<ClientJson>(['client', 'add-group', a.client_id, 'reporting', 'billing']);
  expect(added.groups).toEqual(['billing', 'reporting']);
  expect(added.scopes).toEqual(['bill:read', 'reports:read', 'reports:write']);
  const removed = t.cli(['client', 'remove-group', a.client_id, 'reporting']);
  expect(removed.stdout).toBe(`Client ${a.client_id} is now in groups: billing; scopes: bill:read\n`);
  expect((await t.withRegistry((r) => r.getClient(a.client_id)))?.groups).toEqual(['billing']);

  const unknownGroup = t.cli(['client', 'add-group', a.client_id, 'nope']);
  expect(unknownGroup.status).toBe(1);
  expect(unknownGroup.stderr).toBe('error: group "nope" not found\n');
  const notMember = t.cli(['client', 'remove-group', a.client_id, 'reporting']);
  expect(notMember.status).toBe(1);
  expect(notMember.stderr).toContain(`membership of client "${a.client_id}" in group "reporting" not found`);
});

test.each([['show'], ['disable'], ['enable'], ['rotate-secret'], ['delete'], ['add-group', 'reporting'], ['remove-group', 'reporting']])(
  'client %s with an unknown client exits 1',
  (command, ...rest) => {
    const r = t.cli(['client', command, 'no-such-client', ...rest]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: client "no-such-client" not found\n');
    expect(r.stdout).toBe('');
  },
);
