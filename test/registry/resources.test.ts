import { RegistryError } from '../../lib/errors';
import { ContractRegistry, registryBackends } from '../support/backends';

describe.each(registryBackends())('resources, RFC 8707 ($name)', (backend) => {
  const t = new ContractRegistry(backend);
  const API = 'https://reports.example.com';

  test('a resource is created with its scopes (sorted, each once), listed by URI, shown, and deleted', async () => {
    const created = await t.registry.createResource(API, ['reports:write', 'reports:read', 'reports:read']);
    expect(created).toEqual({ uri: API, scopes: ['reports:read', 'reports:write'], createdAt: t.clock.now(), updatedAt: t.clock.now() });
    await t.registry.createResource('https://billing.example.com', []);
    expect((await t.registry.listResources()).map((r) => r.uri)).toEqual(['https://billing.example.com', API]);
    expect(await t.registry.getResource(API)).toEqual(created);
    await t.registry.deleteResource(API);
    expect(await t.registry.getResource(API)).toBeNull();
    expect(await t.count('resource_scopes', { uri: API })).toBe(0);
  });

  test('scopes are added (kept once) and removed; removing a scope it lacks removes nothing', async () => {
    await t.registry.createResource(API, ['a']);
    t.clock.advance(10);
    expect((await t.registry.addResourceScopes(API, ['b', 'a'])).scopes).toEqual(['a', 'b']);
    await expect(t.registry.removeResourceScopes(API, ['a', 'zzz'])).rejects.toMatchObject({ kind: 'not_found' });
    expect((await t.registry.getResource(API))?.scopes).toEqual(['a', 'b']);
    const updated = await t.registry.removeResourceScopes(API, ['a']);
    expect(updated).toMatchObject({ scopes: ['b'], updatedAt: t.clock.now() });
  });

  test.each([
    ['a relative URI', '/api'],
    ['a fragment', 'https://api.example.com/#x'],
    ['a query', 'https://api.example.com/?tenant=1'],
    ['spaces', 'https://api.example.com/a b'],
    ['an empty string', ''],
    ['600 characters', `https://api.example.com/${'a'.repeat(600)}`],
  ])('RFC 8707 §2: a resource URI with %s is refused', async (_what, uri) => {
    await expect(t.registry.createResource(uri, ['a'])).rejects.toMatchObject({ kind: 'invalid' });
    expect(await t.registry.listResources()).toEqual([]);
  });

  test('a URI is kept exactly as given: "https://api.example.com" and "https://api.example.com/" are two resources', async () => {
    await t.registry.createResource('https://api.example.com', ['a']);
    await t.registry.createResource('https://api.example.com/', ['b']);
    expect((await t.registry.getResource('https://api.example.com'))?.scopes).toEqual(['a']);
  });

  test('a taken URI is a conflict; unknown resources are not_found; a bad scope is invalid', async () => {
    await t.registry.createResource(API, ['a']);
    await expect(t.registry.createResource(API, ['b'])).rejects.toMatchObject({ kind: 'conflict' });
    await expect(t.registry.addResourceScopes('https://nope.example.com', ['a'])).rejects.toMatchObject({ kind: 'not_found' });
    await expect(t.registry.deleteResource('https://nope.example.com')).rejects.toBeInstanceOf(RegistryError);
    await expect(t.registry.addResourceScopes(API, ['has space'])).rejects.toMatchObject({ kind: 'invalid' });
  });

  test('findResource is cached, and a change through another instance is seen', async () => {
    await t.registry.createResource(API, ['a']);
    expect((await t.registry.findResource(API))?.scopes).toEqual(['a']);
    expect(await t.registry.findResource('https://other.example.com')).toBeNull();
    const other = await t.another();
    await other.addResourceScopes(API, ['b']);
    await other.createResource('https://other.example.com', ['c']);
    await t.changesSeen();
    expect((await t.registry.findResource(API))?.scopes).toEqual(['a', 'b']);
    expect((await t.registry.findResource('https://other.example.com'))?.scopes).toEqual(['c']);
    await other.deleteResource(API);
    await t.changesSeen();
    expect(await t.registry.findResource(API)).toBeNull();
  });
});
