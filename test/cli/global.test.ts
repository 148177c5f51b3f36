import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempCliDb, type GroupJson, type TempCliDb } from '../support/cli';
import { CLI } from '../support/constants';

let t: TempCliDb;
beforeEach(() => {
  t = tempCliDb();
});
afterEach(() => t.cleanup());

describe('help', () => {
  test('top-level help documents commands, global options and environment variables', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    for (const text of [
      'group',
      'client',
      'resource',
      'token',
      'key',
      '--db <path>',
      '--bcrypt-cost',
      '--json',
      'CCGATE_DB',
      'CCGATE_BCRYPT_COST',
      'CCGATE_CLIENT_SECRET',
      'Examples:',
      '--auth-method private_key_jwt --jwks keys.json',
      'client set-jwks',
      'resource create https://',
    ]) {
      expect(r.stdout).toContain(text);
    }
  });

  test.each([
    ['group', 'create'],
    ['group', 'list'],
    ['group', 'show'],
    ['group', 'add-scope'],
    ['group', 'remove-scope'],
    ['group', 'delete'],
    ['client', 'create'],
    ['client', 'list'],
    ['client', 'show'],
    ['client', 'disable'],
    ['client', 'enable'],
    ['client', 'rotate-secret'],
    ['client', 'delete'],
    ['client', 'add-group'],
    ['client', 'remove-group'],
    ['client', 'set-jwks'],
    ['resource', 'create'],
    ['resource', 'list'],
    ['resource', 'show'],
    ['resource', 'add-scope'],
    ['resource', 'remove-scope'],
    ['resource', 'delete'],
    ['token', 'revoke'],
    ['token', 'prune'],
    ['key', 'list'],
    ['key', 'rotate'],
    ['key', 'revoke'],
    ['key', 'rewrap'],
    ['key', 'prune'],
  ])('ccgate %s %s --help', (group, command) => {
    const r = runCli([group, command, '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Usage: ccgate ${group} ${command}`);
    expect(r.stdout).toContain('--db <path>'); // global options are shown on every command
  });

  test('secret-taking commands document the ways to pass a secret', () => {
    for (const command of ['create', 'rotate-secret']) {
      const r = runCli(['client', command, '--help']);
      expect(r.stdout).toContain('--secret <secret>');
      expect(r.stdout).toContain('--secret-stdin');
      expect(r.stdout).toContain('CCGATE_CLIENT_SECRET');
      expect(r.stdout).toContain('Examples:');
    }
  });

  test('client create and client set-jwks document the auth methods and the key options', () => {
    const create = runCli(['client', 'create', '--help']).stdout;
    for (const text of [
      '--auth-method <method>',
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
      '--jwks <file>',
      '--jwks-uri <url>',
      'standard input',
    ]) {
      expect(create).toContain(text);
    }
    expect(create).toContain('{"client_id":"..."} for a private_key_jwt client');
    const setJwks = runCli(['client', 'set-jwks', '--help']).stdout;
    for (const text of ['--jwks <file>', '--jwks-uri <url>', 'replaces the old at once', 'private member', 'Examples:']) expect(setJwks).toContain(text);
  });

  test('resource --help lists its commands and says what a resource is (RFC 8707)', () => {
    const r = runCli(['resource', '--help']);
    expect(r.status).toBe(0);
    for (const command of ['create', 'list', 'show', 'add-scope', 'remove-scope', 'delete']) expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(r.stdout).toContain('RFC 8707');
    expect(r.stdout).toContain('"aud"');
  });

  test('a command group without a subcommand shows help and is a usage error', () => {
    const r = runCli(['group']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Usage: ccgate group');
  });
});

describe('choosing the database', () => {
  test('--db before the subcommand', () => {
    expect(runCli(['--db', t.db, 'group', 'create', 'a', '--scopes', 'x']).status).toBe(0);
    expect(t.json<GroupJson[]>(['group', 'list']).map((g) => g.name)).toEqual(['a']);
  });

  test('--db after the subcommand, even after its own options and arguments', () => {
    expect(runCli(['group', 'create', 'a', '--scopes', 'x y', '--db', t.db]).status).toBe(0);
    const r = runCli(['group', 'list', '--json', '--db', t.db]);
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as GroupJson[])[0]).toMatchObject({ name: 'a', scopes: ['x', 'y'] });
  });

  test('CCGATE_DB, and --db wins over it', async () => {
    expect(runCli(['group', 'create', 'from-env'], { env: { CCGATE_DB: t.db } }).status).toBe(0);
    const other = join(t.dir, 'other.db');
    expect(runCli(['group', 'create', 'from-flag', '--db', other], { env: { CCGATE_DB: t.db } }).status).toBe(0);
    expect(await t.withRegistry(async (r) => (await r.listGroups()).map((g) => g.name))).toEqual(['from-env']);
  });

  test('neither --db nor CCGATE_DB is a usage error', () => {
    const r = runCli(['group', 'list']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no registry database: pass --db PATH or URL, or set CCGATE_DB');
    expect(r.stdout).toBe('');
  });

  test('a read-only command refuses a missing file instead of creating an empty one', () => {
    const r = t.cli(['client', 'list']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`error: registry database "${t.db}" does not exist\n`);
    expect(existsSync(t.db)).toBe(false);
  });

  test('a file that is not a database: one line, no stack trace, exit 1', () => {
    writeFileSync(t.db, 'this is not sqlite, just some text that is long enough to be read as a header'.repeat(10));
    const r = t.cli(['group', 'list']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot open registry database ".*": .+\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('bcrypt cost', () => {
  const hashOf = (id: string) => t.withRegistry(async (r) => (await r.findClientCredentials(id))?.secretHashes[0]);

  test('--bcrypt-cost and CCGATE_BCRYPT_COST set the cost of new secrets', async () => {
    const a = JSON.parse(runCli(['--db', t.db, '--bcrypt-cost', '5', '--json', 'client', 'create', 'a']).stdout) as { client_id: string };
    const b = JSON.parse(runCli(['--db', t.db, '--json', 'client', 'create', 'b'], { env: { CCGATE_BCRYPT_COST: '4' } }).stdout) as { client_id: string };
    expect(await hashOf(a.client_id)).toMatch(/^\$2[ab]\$05\$/);
    expect(await hashOf(b.client_id)).toMatch(/^\$2[ab]\$04\$/);
  });

  test('an out-of-range cost and a non-number are both usage errors (exit 2, as documented)', () => {
    const outOfRange = runCli(['--db', t.db, '--bcrypt-cost', '99', 'group', 'create', 'g']);
    expect(outOfRange.status).toBe(2);
    expect(outOfRange.stderr).toContain('bcrypt cost must be an integer from 4 to 15');
    const notNumber = runCli(['--db', t.db, 'group', 'list'], { env: { CCGATE_BCRYPT_COST: 'ten' } });
    expect(notNumber.status).toBe(2);
    expect(notNumber.stderr).toContain('CCGATE_BCRYPT_COST');
  });
});

describe('usage errors', () => {
  test.each([
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['group', 'create'], "missing required argument 'name'"],
    [['group', 'list', '--bogus'], "unknown option '--bogus'"],
    [['client', 'show'], "missing required argument 'id'"],
  ])('%j', (args, message) => {
    const r = t.cli(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  });
});

test('a reader that stops early (ccgate --help | true) gets no EPIPE stack trace', () => {
  const out = spawnSync('bash', ['-c', `node ${JSON.stringify(CLI)} --help | true; exit \${PIPESTATUS[0]}`], { encoding: 'utf8' });
  expect(out.stderr).not.toMatch(/EPIPE|at /);
  expect(out.status).toBe(0);
});
