import { RegistryError } from '../../lib/errors';
import { ContractRegistry, registryBackends } from '../support/backends';

describe.each(registryBackends())('groups ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  test('a group is created with its scopes, listed sorted, and counted', async () => {
    const g = await t.registry.createGroup('writers', ['reports:write', 'reports:read']);
    expect(g).toMatchObject({ name: 'writers', scopes: ['reports:read', 'reports:write'], clientCount: 0, createdAt: t.clock.t });
    await t.registry.createGroup('admins', ['admin']);
    expect((await t.registry.listGroups()).map((x) => x.name)).toEqual(['admins', 'writers']);
    expect(await t.registry.listScopes()).toEqual(['admin', 'reports:read', 'reports:write']);
    expect(await t.registry.getGroup('nope')).toBeNull();
  });

  test('a scope named twice is held once', async () => {
    expect((await t.registry.createGroup('g', ['a', 'b', 'a'])).scopes).toEqual(['a', 'b']);
  });

  test('a duplicate group name is a conflict', async () => {
    await t.registry.createGroup('g', ['a']);
    await expect(t.registry.createGroup('g', ['b'])).rejects.toMatchObject({ kind: 'conflict' });
    expect((await t.registry.getGroup('g'))?.scopes).toEqual(['a']);
  });

  test.each([[''], ['-leading-dash'], ['has space'], ['x'.repeat(65)], ['ünï']])('the group name %j is refused', async (name) => {
    await expect(t.registry.createGroup(name, ['a'])).rejects.toBeInstanceOf(RegistryError);
    expect(await t.registry.listGroups()).toEqual([]);
  });

  test.each([
    ['an empty scope', ''],
    ['a space', 'a b'],
    ['a double quote', 'a"b'],
    ['a backslash', 'a\\b'],
    ['a non-ASCII character', 'réports'],
    ['a control character', 'a\x01'],
    ['129 characters', 'a'.repeat(129)],
  ])('RFC 6749 §3.3: a scope-token with %s is refused, and no group is created', async (_label, scope) => {
    await expect(t.registry.createGroup('g', ['ok', scope])).rejects.toMatchObject({ kind: 'invalid' });
    expect(await t.registry.getGroup('g')).toBeNull();
    await t.registry.createGroup('h', ['ok']);
    await expect(t.registry.addGroupScopes('h', [scope])).rejects.toMatchObject({ kind: 'invalid' });
    expect((await t.registry.getGroup('h'))?.scopes).toEqual(['ok']);
  });

  test('RFC 6749 §3.3: every printable scope-token character except " and \\ is accepted', async () => {
    const scope = "!#$%&'()*+,-./0123456789:;<=>?@AZ[]^_`az{|}~";
    const g = await t.registry.createGroup('g', [scope]);
    expect(g.scopes).toEqual([scope]);
    expect((await t.registry.getGroup('g'))?.scopes).toEqual([scope]);
  });

  test('adding a scope the group already holds is harmless; removing one it lacks is not_found and changes nothing', async () => {
    await t.registry.createGroup('g', ['a', 'b']);
    expect((await t.registry.addGroupScopes('g', ['a', 'c'])).scopes).toEqual(['a', 'b', 'c']);
    await expect(t.registry.removeGroupScopes('g', ['a', 'zzz'])).rejects.toMatchObject({ kind: 'not_found', message: expect.stringContaining('"zzz"') });
    expect((await t.registry.getGroup('g'))?.scopes).toEqual(['a', 'b', 'c']);
    await expect(t.registry.addGroupScopes('nope', ['a'])).rejects.toMatchObject({ kind: 'not_found' });
    await expect(t.registry.removeGroupScopes('nope', ['a'])).rejects.toMatchObject({ kind: 'not_found' });
  });

  test('deleting a group with members is refused unless forced', async () => {
    await t.registry.createGroup('g', ['a']);
    const { client } = await t.registry.createClient({ name: 'c', groups: ['g'] });
    expect((await t.registry.getGroup('g'))?.clientCount).toBe(1);
    const err = await t.registry.deleteGroup('g').catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'conflict', message: expect.stringMatching(/1 client/) });
    expect(await t.registry.getGroup('g')).not.toBeNull();
    expect((await t.registry.getClient(client.clientId))?.scopes).toEqual(['a']);

    await t.registry.deleteGroup('g', { force: true });
    expect(await t.registry.getGroup('g')).toBeNull();
    expect(await t.count('group_scopes')).toBe(0);
    expect(await t.count('client_groups')).toBe(0);
    expect((await t.registry.getClient(client.clientId))?.scopes).toEqual([]);
  });

  test('deleting an empty group needs no force; an unknown one is not_found', async () => {
    await t.registry.createGroup('g', ['a']);
    await t.registry.deleteGroup('g');
    expect(await t.registry.getGroup('g')).toBeNull();
    await expect(t.registry.deleteGroup('g')).rejects.toMatchObject({ kind: 'not_found' });
  });
});
