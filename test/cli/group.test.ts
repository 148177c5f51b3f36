import { tempCliDb, type GroupJson, type TempCliDb } from '../support/cli';

let t: TempCliDb;
beforeEach(() => {
  t = tempCliDb();
});
afterEach(() => t.cleanup());

test('group create: scopes space- or comma-separated; text and JSON output', async () => {
  const text = t.cli(['group', 'create', 'reporting', '--scopes', 'reports:read, reports:write']);
  expect(text.status).toBe(0);
  expect(text.stdout).toBe('Created group "reporting" with scopes: reports:read reports:write\n');
  const json = t.json<GroupJson>(['group', 'create', 'billing', '--scopes', 'bill:read bill:pay']);
  expect(json).toEqual({ name: 'billing', scopes: ['bill:pay', 'bill:read'], client_count: 0, created_at: expect.any(Number) });
  expect(t.json<GroupJson>(['group', 'create', 'empty']).scopes).toEqual([]);
  const stored = await t.withRegistry((r) => r.getGroup('reporting'));
  expect(stored?.scopes).toEqual(['reports:read', 'reports:write']);
});

test('group create refuses a duplicate, a bad name and a bad scope with exit 1', () => {
  t.cli(['group', 'create', 'reporting', '--scopes', 'a']);
  const dup = t.cli(['group', 'create', 'reporting', '--scopes', 'b']);
  expect(dup.status).toBe(1);
  expect(dup.stderr).toBe('error: group "reporting" already exists\n');
  expect(dup.stdout).toBe('');
  const badName = t.cli(['group', 'create', 'has space']);
  expect(badName.status).toBe(1);
  expect(badName.stderr).toContain('invalid group name "has space"');
  const badScope = t.cli(['group', 'create', 'g', '--scopes', 'ok bad"quote']);
  expect(badScope.status).toBe(1);
  expect(badScope.stderr).toContain('invalid scope "bad"quote"');
});

test('group list and show', () => {
  expect(t.cli(['group', 'create', 'b-group', '--scopes', 's2']).status).toBe(0);
  t.cli(['group', 'create', 'a-group', '--scopes', 's1 s3']);
  const list = t.json<GroupJson[]>(['group', 'list']);
  expect(list.map((g) => [g.name, g.scopes])).toEqual([
    ['a-group', ['s1', 's3']],
    ['b-group', ['s2']],
  ]);

  const table = t.cli(['group', 'list']).stdout.split('\n');
  expect(table[0]).toMatch(/^NAME\s+SCOPES\s+CLIENTS\s+CREATED$/);
  expect(table[1]).toMatch(/^a-group\s+s1 s3\s+0\s+\d{4}-\d\d-\d\dT/);

  expect(t.json<GroupJson>(['group', 'show', 'a-group'])).toMatchObject({ name: 'a-group', scopes: ['s1', 's3'], client_count: 0 });
  const shown = t.cli(['group', 'show', 'a-group']).stdout;
  expect(shown).toMatch(/^name:\s+a-group$/m);
  expect(shown).toMatch(/^scopes:\s+s1 s3$/m);
});

test('group list on an empty registry', () => {
  t.cli(['group', 'create', 'x']);
  t.cli(['group', 'delete', 'x']);
  expect(t.cli(['group', 'list']).stdout).toBe('No groups.\n');
  expect(t.json(['group', 'list'])).toEqual([]);
});

test('group add-scope and remove-scope', async () => {
  t.cli(['group', 'create', 'g', '--scopes', 'a']);
  expect(t.json<GroupJson>(['group', 'add-scope', 'g', 'b', 'c,d']).scopes).toEqual(['a', 'b', 'c', 'd']);
  const removed = t.cli(['group', 'remove-scope', 'g', 'a', 'c']);
  expect(removed.status).toBe(0);
  expect(removed.stdout).toBe('Group "g" now grants: b d\n');
  expect((await t.withRegistry((r) => r.getGroup('g')))?.scopes).toEqual(['b', 'd']);

  const notHeld = t.cli(['group', 'remove-scope', 'g', 'zzz']);
  expect(notHeld.status).toBe(1);
  expect(notHeld.stderr).toContain('scope "zzz" in group "g" not found');
});

test('unknown group: show, add-scope, remove-scope, delete exit 1', () => {
  t.cli(['group', 'create', 'exists']);
  for (const args of [
    ['show', 'nope'],
    ['add-scope', 'nope', 'a'],
    ['remove-scope', 'nope', 'a'],
    ['delete', 'nope'],
  ]) {
    const r = t.cli(['group', ...args]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: group "nope" not found\n');
  }
});

test('group delete: refused while clients are members, unless --force', async () => {
  t.cli(['group', 'create', 'g', '--scopes', 'a']);
  t.cli(['client', 'create', 'c', '--groups', 'g']);
  const refused = t.cli(['group', 'delete', 'g']);
  expect(refused.status).toBe(1);
  expect(refused.stderr).toContain('group "g" still has 1 client(s)');
  expect(refused.stderr).toContain('--force');
  expect(await t.withRegistry((r) => r.getGroup('g'))).not.toBeNull();

  expect(t.json(['group', 'delete', 'g', '--force'])).toEqual({ name: 'g', deleted: true });
  expect(await t.withRegistry((r) => r.getGroup('g'))).toBeNull();
  t.cli(['group', 'create', 'h']);
  expect(t.cli(['group', 'delete', 'h']).stdout).toBe('Deleted group "h".\n');
});
