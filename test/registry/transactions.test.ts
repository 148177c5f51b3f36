import { tempRegistry, type TempRegistry } from '../support/temp';

let t: TempRegistry;
beforeEach(() => {
  t = tempRegistry();
});
afterEach(() => t.cleanup());

const count = (table: string) => t.registry.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
const totals = () => ({
  clients: count('clients'),
  memberships: count('client_groups'),
  secrets: count('client_secrets'),
  groups: count('groups'),
  scopes: count('group_scopes'),
});

test('createClient with an unknown group leaves nothing behind', async () => {
  await t.registry.createGroup('known', ['a']);
  const before = totals();
  await expect(t.registry.createClient({ name: 'c', groups: ['known', 'unknown'] })).rejects.toMatchObject({ kind: 'not_found' });
  expect(totals()).toEqual(before);
  expect(await t.registry.listClients()).toEqual([]);
});

test('a write failing after its first rows are written is rolled back whole (client row, memberships)', async () => {
  await t.registry.createGroup('g', ['a']);
  const before = totals();
  // Make the last statement of createClient (the secret insert) fail inside the transaction.
  t.registry.db.exec(`CREATE TRIGGER fail_secret BEFORE INSERT ON client_secrets BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;`);
  await expect(t.registry.createClient({ name: 'c', groups: ['g'] })).rejects.toMatchObject({ message: expect.stringMatching(/disk on fire/) });
  expect(totals()).toEqual(before);
  t.registry.db.exec('DROP TRIGGER fail_secret');
  // And the registry is still usable afterwards.
  const { client } = await t.registry.createClient({ name: 'c', groups: ['g'] });
  expect(client.scopes).toEqual(['a']);
});

test('a secret rotation failing midway keeps the old secret valid', async () => {
  const { client } = await t.registry.createClient({ name: 'c' });
  const before = await t.registry.findClientCredentials(client.clientId);
  t.registry.db.exec(`CREATE TRIGGER fail_secret BEFORE INSERT ON client_secrets BEGIN SELECT RAISE(ABORT, 'nope'); END;`);
  await expect(t.registry.rotateClientSecret(client.clientId)).rejects.toMatchObject({ message: expect.stringMatching(/nope/) });
  // The old rows were deleted earlier in the same transaction; the rollback restores them.
  expect(await t.registry.findClientCredentials(client.clientId)).toEqual(before);
});

test('createGroup failing on its scopes writes no group row', async () => {
  t.registry.db.exec(`CREATE TRIGGER fail_scope BEFORE INSERT ON group_scopes WHEN NEW.scope = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END;`);
  await expect(t.registry.createGroup('g', ['fine', 'boom'])).rejects.toMatchObject({ message: expect.stringMatching(/boom/) });
  expect(await t.registry.getGroup('g')).toBeNull();
  expect(totals()).toMatchObject({ groups: 0, scopes: 0 });
});

test('addClientGroups with one unknown group adds none of them', async () => {
  await t.registry.createGroup('g1', ['a']);
  const { client } = await t.registry.createClient({ name: 'c' });
  await expect(t.registry.addClientGroups(client.clientId, ['g1', 'missing'])).rejects.toMatchObject({ kind: 'not_found' });
  expect((await t.registry.getClient(client.clientId))?.groups).toEqual([]);
});

test('removeGroupScopes with one scope the group lacks removes none', async () => {
  await t.registry.createGroup('g', ['a', 'b']);
  await expect(t.registry.removeGroupScopes('g', ['a', 'c'])).rejects.toMatchObject({ kind: 'not_found' });
  expect((await t.registry.getGroup('g'))?.scopes).toEqual(['a', 'b']);
});
