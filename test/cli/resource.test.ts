// Resources (RFC 8707) from the CLI: create, list, show, add-scope, remove-scope, delete.
import { tempCliDb, type ResourceJson, type TempCliDb } from '../support/cli';

const API = 'https://api.example.com/reports';
const OTHER = 'https://billing.example.com/';

let t: TempCliDb;
beforeEach(() => {
  t = tempCliDb();
});
afterEach(() => t.cleanup());

const stored = (uri: string) => t.withRegistry((r) => r.getResource(uri));

describe('resource create', () => {
  test('scopes space- or comma-separated; text and JSON output; stored as given', async () => {
    const text = t.cli(['resource', 'create', API, '--scopes', 'reports:write, reports:read']);
    expect(text.status).toBe(0);
    expect(text.stdout).toBe(`Created resource "${API}" with scopes: reports:read reports:write\n`);
    const json = t.json<ResourceJson>(['resource', 'create', OTHER, '--scopes', 'bill:read bill:pay']);
    expect(json).toEqual({ uri: OTHER, scopes: ['bill:pay', 'bill:read'], created_at: expect.any(Number), updated_at: expect.any(Number) });
    expect(json.updated_at).toBe(json.created_at);
    expect(await stored(API)).toMatchObject({ uri: API, scopes: ['reports:read', 'reports:write'] });
  });

  test('without --scopes: a resource with no scopes yet', () => {
    expect(t.json<ResourceJson>(['resource', 'create', API]).scopes).toEqual([]);
    expect(t.cli(['resource', 'show', API]).stdout).toMatch(/^scopes:\s+-$/m);
  });

  test('a duplicate, a fragment, a query, a relative URI and a bad scope are refused with exit 1', async () => {
    t.cli(['resource', 'create', API, '--scopes', 'a']);
    const dup = t.cli(['resource', 'create', API, '--scopes', 'b']);
    expect(dup.status).toBe(1);
    expect(dup.stderr).toBe(`error: resource "${API}" already exists\n`);
    expect(dup.stdout).toBe('');
    for (const [uri, message] of [
      ['https://api.example.com/x#part', 'a resource URI must not have a fragment (RFC 8707 section 2)'],
      ['https://api.example.com/x?v=1', 'a resource URI must not have a query (RFC 8707 section 2)'],
      ['/reports', '"/reports" is not an absolute URI'],
    ]) {
      const r = t.cli(['resource', 'create', uri]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`error: ${message}\n`);
    }
    const badScope = t.cli(['resource', 'create', OTHER, '--scopes', 'ok bad"quote']);
    expect(badScope.status).toBe(1);
    expect(badScope.stderr).toContain('invalid scope "bad"quote"');
    expect((await t.withRegistry((r) => r.listResources())).map((r) => r.uri)).toEqual([API]);
  });
});

test('resource list and show', () => {
  t.cli(['resource', 'create', 'https://b.example.com/api', '--scopes', 's2']);
  t.cli(['resource', 'create', 'https://a.example.com/api', '--scopes', 's1 s3']);
  const list = t.json<ResourceJson[]>(['resource', 'list']);
  expect(list.map((r) => [r.uri, r.scopes])).toEqual([
    ['https://a.example.com/api', ['s1', 's3']],
    ['https://b.example.com/api', ['s2']],
  ]);
  const table = t.cli(['resource', 'list']).stdout.split('\n');
  expect(table[0]).toMatch(/^URI\s+SCOPES\s+CREATED\s+UPDATED$/);
  expect(table[1]).toMatch(/^https:\/\/a\.example\.com\/api\s+s1 s3\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+\d{4}-\d\d-\d\dT/);

  expect(t.json<ResourceJson>(['resource', 'show', 'https://a.example.com/api'])).toMatchObject({ uri: 'https://a.example.com/api', scopes: ['s1', 's3'] });
  const shown = t.cli(['resource', 'show', 'https://a.example.com/api']).stdout;
  expect(shown).toMatch(/^uri:\s+https:\/\/a\.example\.com\/api$/m);
  expect(shown).toMatch(/^scopes:\s+s1 s3$/m);
  expect(shown).toMatch(/^created:\s+\d{4}-/m);
  expect(shown).toMatch(/^updated:\s+\d{4}-/m);
});

test('resource list on an empty registry', () => {
  expect(t.cli(['resource', 'create', API]).status).toBe(0);
  expect(t.cli(['resource', 'delete', API]).status).toBe(0);
  expect(t.cli(['resource', 'list']).stdout).toBe('No resources.\n');
  expect(t.json(['resource', 'list'])).toEqual([]);
});

test('resource add-scope and remove-scope', async () => {
  t.cli(['resource', 'create', API, '--scopes', 'a']);
  const added = t.json<ResourceJson>(['resource', 'add-scope', API, 'b', 'c,d']);
  expect(added.scopes).toEqual(['a', 'b', 'c', 'd']);
  const removed = t.cli(['resource', 'remove-scope', API, 'a', 'c']);
  expect(removed.status).toBe(0);
  expect(removed.stdout).toBe(`Resource "${API}" now understands: b d\n`);
  expect((await stored(API))?.scopes).toEqual(['b', 'd']);
  expect(t.cli(['resource', 'add-scope', API, 'b']).stdout).toBe(`Resource "${API}" now understands: b d\n`);

  const notHeld = t.cli(['resource', 'remove-scope', API, 'b', 'zzz']);
  expect(notHeld.status).toBe(1);
  expect(notHeld.stderr).toContain('"zzz"');
  expect(notHeld.stderr).toContain('not found');
  expect((await stored(API))?.scopes).toEqual(['b', 'd']);
  const badScope = t.cli(['resource', 'add-scope', API, 'bad"quote']);
  expect(badScope.status).toBe(1);
  expect(badScope.stderr).toContain('invalid scope');
});

test('resource delete', async () => {
  t.cli(['resource', 'create', API, '--scopes', 'a']);
  t.cli(['resource', 'create', OTHER]);
  expect(t.cli(['resource', 'delete', API]).stdout).toBe(`Deleted resource "${API}".\n`);
  expect(t.json(['resource', 'delete', OTHER])).toEqual({ uri: OTHER, deleted: true });
  expect(await stored(API)).toBeNull();
  expect(await t.withRegistry((r) => r.listResources())).toEqual([]);
});

test.each([
  ['show', []],
  ['add-scope', ['a']],
  ['remove-scope', ['a']],
  ['delete', []],
])('resource %s with an unknown URI exits 1', (command, rest) => {
  t.cli(['resource', 'create', API]);
  const r = t.cli(['resource', command, 'https://nope.example.com/', ...rest]);
  expect(r.status).toBe(1);
  expect(r.stderr).toBe('error: resource "https://nope.example.com/" not found\n');
  expect(r.stdout).toBe('');
});

test('read-only resource commands refuse a missing registry file', () => {
  const r = t.cli(['resource', 'list']);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('does not exist');
});

test.each([
  [['resource'], 'Usage: ccgate resource'],
  [['resource', 'create'], "missing required argument 'uri'"],
  [['resource', 'show'], "missing required argument 'uri'"],
  [['resource', 'add-scope', API], "missing required argument 'scope'"],
  [['resource', 'remove-scope', API], "missing required argument 'scope'"],
  [['resource', 'delete'], "missing required argument 'uri'"],
  [['resource', 'list', '--bogus'], "unknown option '--bogus'"],
  [['resource', 'frobnicate'], "unknown command 'frobnicate'"],
])('usage error %j exits 2', (args, message) => {
  const r = t.cli(args);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(message);
});
