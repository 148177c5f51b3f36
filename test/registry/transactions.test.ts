import { ContractRegistry, registryBackends } from '../support/backends';

describe.each(registryBackends())('every write is one transaction ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  const totals = async () => ({
    clients: await t.count('clients'),
    memberships: await t.count('client_groups'),
    secrets: await t.count('client_secrets'),
    groups: await t.count('groups'),
    scopes: await t.count('group_scopes'),
  });

  test('createClient with an unknown group leaves nothing behind', async () => {
    await t.registry.createGroup('known', ['a']);
    const before = await totals();
    await expect(t.registry.createClient({ name: 'c', groups: ['known', 'unknown'] })).rejects.toMatchObject({
      kind: 'not_found',
      message: expect.stringContaining('"unknown"'),
    });
    expect(await totals()).toEqual(before);
    expect(await t.registry.listClients()).toEqual([]);
  });

  test('a write failing after its first rows are written is rolled back whole (client row, memberships)', async () => {
    await t.registry.createGroup('g', ['a']);
    const before = await totals();
    // Make the last statement of createClient (the secret insert) fail inside the transaction.
    const restore = await t.backend.failInserts('client_secrets', 'disk on fire');
    await expect(t.registry.createClient({ name: 'c', groups: ['g'] })).rejects.toMatchObject({ message: expect.stringMatching(/disk on fire/) });
    expect(await totals()).toEqual(before);
    await restore();
    // And the registry is still usable afterwards.
    const { client } = await t.registry.createClient({ name: 'c', groups: ['g'] });
    expect(client.scopes).toEqual(['a']);
  });

  test('a secret rotation failing midway keeps the old secret valid', async () => {
    const { client } = await t.registry.createClient({ name: 'c' });
    const before = await t.registry.findClientCredentials(client.clientId);
    await t.registry.rotateClientSecret(client.clientId, { overlapSeconds: 60 });
    const during = await t.registry.findClientCredentials(client.clientId);
    const restore = await t.backend.failInserts('client_secrets', 'nope');
    await expect(t.registry.rotateClientSecret(client.clientId)).rejects.toMatchObject({ message: expect.stringMatching(/nope/) });
    await restore();
    // The old rows were deleted earlier in the same transaction; the rollback restores them.
    expect(await t.registry.findClientCredentials(client.clientId)).toEqual(during);
    expect(during?.secretHashes).toEqual(expect.arrayContaining(before?.secretHashes ?? ['?']));
  });

  test('createGroup failing on its scopes writes no group row', async () => {
    const restore = await t.backend.failInserts('group_scopes', 'boom', { column: 'scope', equals: 'boom' });
    await expect(t.registry.createGroup('g', ['fine', 'boom'])).rejects.toMatchObject({ message: expect.stringMatching(/boom/) });
    expect(await t.registry.getGroup('g')).toBeNull();
    expect(await totals()).toMatchObject({ groups: 0, scopes: 0 });
    await restore();
    expect((await t.registry.createGroup('g', ['fine'])).scopes).toEqual(['fine']);
  });

  test('addClientGroups with one unknown group adds none of them', async () => {
    await t.registry.createGroup('g1', ['a']);
    const { client } = await t.registry.createClient({ name: 'c' });
    await expect(t.registry.addClientGroups(client.clientId, ['g1', 'missing'])).rejects.toMatchObject({ kind: 'not_found' });
    expect((await t.registry.getClient(client.clientId))?.groups).toEqual([]);
  });

  test('removeClientGroups with one group the client is not in removes none', async () => {
    await t.registry.createGroup('g1', ['a']);
    await t.registry.createGroup('g2', ['b']);
    const { client } = await t.registry.createClient({ name: 'c', groups: ['g1'] });
    await expect(t.registry.removeClientGroups(client.clientId, ['g1', 'g2'])).rejects.toMatchObject({
      kind: 'not_found',
      message: expect.stringContaining('"g2"'),
    });
    expect((await t.registry.getClient(client.clientId))?.groups).toEqual(['g1']);
  });

  test('removeGroupScopes with one scope the group lacks removes none', async () => {
    await t.registry.createGroup('g', ['a', 'b']);
    await expect(t.registry.removeGroupScopes('g', ['a', 'c'])).rejects.toMatchObject({ kind: 'not_found' });
    expect((await t.registry.getGroup('g'))?.scopes).toEqual(['a', 'b']);
  });
});
