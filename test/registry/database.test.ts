import { ConfigurationError } from '../../lib/errors';
import { Registry } from '../../lib/registry/registry';
import { ContractRegistry, registryBackends } from '../support/backends';

describe.each(registryBackends())('the database ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  test('ready() and ping() resolve while the database answers', async () => {
    await expect(t.registry.ready()).resolves.toBeUndefined();
    await expect(t.registry.ping()).resolves.toBeUndefined();
  });

  test('opening the database again keeps the data (the migrations do not run twice)', async () => {
    await t.registry.createGroup('readers', ['reports:read']);
    await t.registry.close();
    const again = await t.another();
    expect(await again.getGroup('readers')).toMatchObject({ name: 'readers', scopes: ['reports:read'] });
    await again.createGroup('more', ['x']);
    expect((await again.listGroups()).map((g) => g.name)).toEqual(['more', 'readers']);
  });

  test('close() may be called twice', async () => {
    await t.registry.close();
    await expect(t.registry.close()).resolves.toBeUndefined();
  });

  test('an invalid bcrypt cost is refused when the registry is built', () => {
    for (const bcryptCost of [3, 16, 4.5]) {
      expect(() => new Registry(t.backend.openAnother(), { bcryptCost })).toThrow(ConfigurationError);
    }
    expect(() => new Registry(t.backend.openAnother(), { bcryptCost: 3 })).toThrow(/bcrypt cost/);
  });

  describe('two instances (servers, or a server and the CLI)', () => {
    test('a write by one instance is seen by the other, and moves its version()', async () => {
      const cli = await t.another();
      const before = t.registry.version();
      await cli.createGroup('from-cli', ['x']);
      await t.changesSeen();
      expect(t.registry.version()).not.toBe(before);
      expect(await t.registry.getGroup('from-cli')).not.toBeNull();
    });

    test('a write of our own moves version()', async () => {
      const before = t.registry.version();
      await t.registry.createGroup('g', ['x']);
      expect(t.registry.version()).not.toBe(before);
    });

    test('a refusal found by the storage (a duplicate name) is the same refusal on every instance', async () => {
      const other = await t.another();
      await t.registry.createGroup('g', ['x']);
      await expect(other.createGroup('g', ['y'])).rejects.toMatchObject({ kind: 'conflict' });
      const { client } = await other.createClient({ name: 'c', groups: ['g'] });
      await expect(t.registry.deleteGroup('g')).rejects.toMatchObject({ kind: 'conflict' });
      await other.deleteClient(client.clientId);
      await expect(t.registry.deleteClient(client.clientId)).rejects.toMatchObject({ kind: 'not_found' });
    });
  });
});
