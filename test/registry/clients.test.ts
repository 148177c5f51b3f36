import bcrypt from 'bcryptjs';
import { RegistryError } from '../../lib/errors';
import { MAX_SECRET_BYTES, MAX_TOKEN_TTL_SECONDS, MIN_SECRET_BYTES } from '../../lib/registry/rules';
import { ContractRegistry, registryBackends } from '../support/backends';

describe.each(registryBackends())('clients ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  describe('clients: creation and secrets', () => {
    test('a generated client_id is 16 random bytes base64url, different every time', async () => {
      const a = await t.registry.createClient({ name: 'a' });
      const b = await t.registry.createClient({ name: 'b' });
      expect(a.client.clientId).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(b.client.clientId).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(a.client.clientId).not.toBe(b.client.clientId);
    });

    test('RFC 6749 §2.3.1: a generated secret is 32 random bytes base64url (43 chars, no form/Basic special characters)', async () => {
      const secrets = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const { clientSecret } = await t.registry.createClient({ name: `c${i}` });
        expect(clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(Buffer.from(clientSecret as string, 'base64url')).toHaveLength(32);
        secrets.add(clientSecret as string);
      }
      expect(secrets.size).toBe(5);
    });

    test('the secret is stored only as a bcrypt hash: no table holds the plaintext', async () => {
      const { client, clientSecret } = await t.registry.createClient({ name: 'c', secret: 'a chosen secret with spaces!' });
      const created = await t.registry.createClient({ name: 'generated' });
      const tables = await t.backend.tables();
      expect(tables).toEqual(expect.arrayContaining(['clients', 'client_secrets']));
      for (const secret of [clientSecret as string, created.clientSecret as string]) {
        for (const table of tables) {
          for (const row of await t.rows(table)) {
            for (const value of Object.values(row)) {
              if (typeof value === 'string') expect(value.includes(secret)).toBe(false);
            }
          }
        }
      }
      const hashes = (await t.rows('client_secrets')).filter((row) => row.client_id === client.clientId).map((row) => row.secret_hash as string);
      expect(hashes).toHaveLength(1);
      expect(hashes[0]).toMatch(/^\$2[aby]\$04\$/); // bcrypt, at the configured cost
      expect(bcrypt.compareSync(clientSecret as string, hashes[0])).toBe(true);
      expect(bcrypt.compareSync('a chosen secret with spaces?', hashes[0])).toBe(false);
    });

    test('findClientCredentials returns the hash that matches the secret, and null for an unknown id', async () => {
      const { client, clientSecret } = await t.registry.createClient({ name: 'c' });
      const creds = await t.registry.findClientCredentials(client.clientId);
      expect(creds).toMatchObject({ clientId: client.clientId, type: 'confidential', enabled: true, grantTypes: ['client_credentials'] });
      expect(creds?.secretHashes).toHaveLength(1);
      expect(bcrypt.compareSync(clientSecret as string, creds!.secretHashes[0])).toBe(true);
      expect(await t.registry.findClientCredentials('no-such-client')).toBeNull();
    });

    test.each([
      ['exactly 16 ASCII bytes', 'a'.repeat(MIN_SECRET_BYTES)],
      ['exactly 72 ASCII bytes', 'b'.repeat(MAX_SECRET_BYTES)],
      ['24 two-byte characters (48 bytes)', 'é'.repeat(24)],
      ['18 four-byte characters (72 bytes)', '😀'.repeat(18)],
    ])('a caller-chosen secret of %s is accepted', async (_label, secret) => {
      const { clientSecret, client } = await t.registry.createClient({ name: 'c', secret });
      expect(clientSecret).toBe(secret);
      const creds = await t.registry.findClientCredentials(client.clientId);
      expect(bcrypt.compareSync(secret, creds!.secretHashes[0])).toBe(true);
    });

    test.each([
      ['15 bytes', 'a'.repeat(15), 15],
      ['73 ASCII bytes', 'a'.repeat(73), 73],
      ['37 two-byte characters: 37 chars but 74 bytes', 'é'.repeat(37), 74],
      ['19 four-byte characters: 38 UTF-16 units but 76 bytes', '😀'.repeat(19), 76],
      ['5 three-byte characters: 15 bytes, too short', '€'.repeat(5), 15],
    ])('a caller-chosen secret of %s is refused (length counted in UTF-8 bytes) and nothing is written', async (_label, secret, bytes) => {
      const err = await t.registry.createClient({ name: 'c', secret }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect(err).toMatchObject({ kind: 'invalid', message: expect.stringContaining(`got ${bytes}`) });
      expect(await t.count('clients')).toBe(0);
      expect(await t.count('client_secrets')).toBe(0);
    });

    test('a public client has no secret, and may not be given one', async () => {
      const { client, clientSecret } = await t.registry.createClient({ name: 'spa', type: 'public' });
      expect(clientSecret).toBeNull();
      expect(client.type).toBe('public');
      expect(client.secrets).toEqual([]);
      expect(await t.count('client_secrets')).toBe(0);
      await expect(t.registry.createClient({ name: 'spa', type: 'public', secret: 'x'.repeat(20) })).rejects.toMatchObject({ kind: 'invalid' });
      await expect(t.registry.rotateClientSecret(client.clientId)).rejects.toMatchObject({ kind: 'invalid' });
    });

    test('an unknown client type or grant type is refused', async () => {
      await expect(t.registry.createClient({ name: 'c', type: 'robot' as never })).rejects.toMatchObject({ kind: 'invalid' });
      await expect(t.registry.createClient({ name: 'c', grantTypes: ['password' as never] })).rejects.toMatchObject({ kind: 'invalid' });
      expect(await t.count('clients')).toBe(0);
    });

    test('grant types default to client_credentials; an empty list reads back as an empty list', async () => {
      const { client } = await t.registry.createClient({ name: 'default' });
      expect(client.grantTypes).toEqual(['client_credentials']);
      const none = await t.registry.createClient({ name: 'none', grantTypes: [] });
      expect(none.client.grantTypes).toEqual([]);
      expect((await t.registry.findClientCredentials(none.client.clientId))?.grantTypes).toEqual([]);
    });

    test.each([[''], ['x'.repeat(201)], ['line\nbreak'], ['tab\there']])('the client name %j is refused', async (name) => {
      await expect(t.registry.createClient({ name })).rejects.toMatchObject({ kind: 'invalid' });
    });

    test('created and updated times come from the registry clock', async () => {
      const { client } = await t.registry.createClient({ name: 'c' });
      expect(client.createdAt).toBe(t.clock.t);
      t.clock.advance(10);
      const disabled = await t.registry.setClientEnabled(client.clientId, false);
      expect(disabled.createdAt).toBe(t.clock.t - 10);
      expect(disabled.updatedAt).toBe(t.clock.t);
    });
  });

  describe('clients: per-client token lifetime', () => {
    test.each([[1], [60], [MAX_TOKEN_TTL_SECONDS], [null]])('tokenTtl %p is accepted and stored', async (ttl) => {
      const { client } = await t.registry.createClient({ name: 'c', tokenTtl: ttl });
      expect(client.tokenTtl).toBe(ttl);
      expect((await t.registry.findClientCredentials(client.clientId))?.tokenTtl).toBe(ttl);
    });

    test('an omitted tokenTtl means the server default (null)', async () => {
      const { client } = await t.registry.createClient({ name: 'c' });
      expect(client.tokenTtl).toBeNull();
    });

    test.each([[0], [-5], [1.5], [MAX_TOKEN_TTL_SECONDS + 1], [Number.NaN], [Number.POSITIVE_INFINITY]])(
      'RFC 9700 §2.2 short-lived tokens: tokenTtl %p is refused',
      async (ttl) => {
        await expect(t.registry.createClient({ name: 'c', tokenTtl: ttl })).rejects.toMatchObject({ kind: 'invalid' });
        expect(await t.count('clients')).toBe(0);
      },
    );
  });

  describe('clients: scopes come from groups', () => {
    test("a client holds exactly the union of its groups' scopes, sorted and without duplicates", async () => {
      await t.registry.createGroup('readers', ['reports:read', 'users:read']);
      await t.registry.createGroup('writers', ['reports:write', 'reports:read']);
      await t.registry.createGroup('other', ['admin']);
      const { client } = await t.registry.createClient({ name: 'c', groups: ['writers', 'readers'] });
      expect(client.groups).toEqual(['readers', 'writers']);
      expect(client.scopes).toEqual(['reports:read', 'reports:write', 'users:read']);
      expect((await t.registry.findClientCredentials(client.clientId))?.scopes).toEqual(['reports:read', 'reports:write', 'users:read']);
    });

    test('a client in no group has no scope', async () => {
      const { client } = await t.registry.createClient({ name: 'c' });
      expect(client.scopes).toEqual([]);
      expect(client.groups).toEqual([]);
    });

    test('adding and removing a group scope changes the scopes of every member at once', async () => {
      await t.registry.createGroup('g', ['a']);
      const one = await t.registry.createClient({ name: 'one', groups: ['g'] });
      const two = await t.registry.createClient({ name: 'two', groups: ['g'] });
      await t.registry.addGroupScopes('g', ['b', 'c']);
      expect((await t.registry.getClient(one.client.clientId))?.scopes).toEqual(['a', 'b', 'c']);
      await t.registry.removeGroupScopes('g', ['a', 'c']);
      expect((await t.registry.getClient(one.client.clientId))?.scopes).toEqual(['b']);
      expect((await t.registry.findClientCredentials(two.client.clientId))?.scopes).toEqual(['b']);
    });

    test('a scope another group still grants survives its removal from one group', async () => {
      await t.registry.createGroup('g1', ['shared', 'only1']);
      await t.registry.createGroup('g2', ['shared']);
      const { client } = await t.registry.createClient({ name: 'c', groups: ['g1', 'g2'] });
      await t.registry.removeGroupScopes('g1', ['shared']);
      expect((await t.registry.getClient(client.clientId))?.scopes).toEqual(['only1', 'shared']);
    });

    test("addClientGroups / removeClientGroups change the client's scopes", async () => {
      await t.registry.createGroup('g1', ['a']);
      await t.registry.createGroup('g2', ['b']);
      const { client } = await t.registry.createClient({ name: 'c', groups: ['g1'] });
      expect((await t.registry.addClientGroups(client.clientId, ['g2'])).scopes).toEqual(['a', 'b']);
      expect((await t.registry.removeClientGroups(client.clientId, ['g1'])).scopes).toEqual(['b']);
      await expect(t.registry.removeClientGroups(client.clientId, ['g1'])).rejects.toMatchObject({ kind: 'not_found' });
      await expect(t.registry.addClientGroups(client.clientId, ['nope'])).rejects.toMatchObject({ kind: 'not_found' });
      await expect(t.registry.addClientGroups('nobody', ['g1'])).rejects.toMatchObject({ kind: 'not_found' });
    });

    test('deleting a group with force removes its scopes from former members', async () => {
      await t.registry.createGroup('g1', ['a']);
      await t.registry.createGroup('g2', ['b']);
      const { client } = await t.registry.createClient({ name: 'c', groups: ['g1', 'g2'] });
      await t.registry.deleteGroup('g1', { force: true });
      const after = await t.registry.getClient(client.clientId);
      expect(after?.groups).toEqual(['g2']);
      expect(after?.scopes).toEqual(['b']);
    });
  });

  describe('clients: enable, disable, delete', () => {
    test('disable and enable flip the flag seen by client authentication', async () => {
      const { client } = await t.registry.createClient({ name: 'c' });
      expect((await t.registry.setClientEnabled(client.clientId, false)).enabled).toBe(false);
      expect((await t.registry.findClientCredentials(client.clientId))?.enabled).toBe(false);
      expect((await t.registry.setClientEnabled(client.clientId, true)).enabled).toBe(true);
      expect((await t.registry.findClientCredentials(client.clientId))?.enabled).toBe(true);
      await expect(t.registry.setClientEnabled('nobody', false)).rejects.toMatchObject({ kind: 'not_found' });
    });

    test('deleting a client removes its row, its memberships and its secrets', async () => {
      await t.registry.createGroup('g', ['a']);
      const keep = await t.registry.createClient({ name: 'keep', groups: ['g'] });
      const { client } = await t.registry.createClient({ name: 'gone', groups: ['g'] });
      await t.registry.rotateClientSecret(client.clientId, { overlapSeconds: 60 });
      expect(await t.count('client_secrets', { client_id: client.clientId })).toBe(2);

      await t.registry.deleteClient(client.clientId);
      expect(await t.registry.getClient(client.clientId)).toBeNull();
      expect(await t.registry.findClientCredentials(client.clientId)).toBeNull();
      expect(await t.count('client_groups', { client_id: client.clientId })).toBe(0);
      expect(await t.count('client_secrets', { client_id: client.clientId })).toBe(0);
      // The other member is untouched; the group counts one client now.
      expect((await t.registry.getClient(keep.client.clientId))?.scopes).toEqual(['a']);
      expect((await t.registry.getGroup('g'))?.clientCount).toBe(1);
      await expect(t.registry.deleteClient(client.clientId)).rejects.toMatchObject({ kind: 'not_found' });
    });

    test('listClients lists every client in creation order', async () => {
      const a = await t.registry.createClient({ name: 'a' });
      t.clock.advance(1);
      const b = await t.registry.createClient({ name: 'b' });
      expect((await t.registry.listClients()).map((c) => c.clientId)).toEqual([a.client.clientId, b.client.clientId]);
    });
  });

  describe('clients: secret rotation', () => {
    const matches = (secret: string, hashes: string[]) => hashes.some((h) => bcrypt.compareSync(secret, h));

    test('without overlap the old secret stops at once', async () => {
      const { client, clientSecret: old } = await t.registry.createClient({ name: 'c' });
      const { clientSecret: fresh } = await t.registry.rotateClientSecret(client.clientId);
      const creds = await t.registry.findClientCredentials(client.clientId);
      expect(creds?.secretHashes).toHaveLength(1);
      expect(matches(fresh as string, creds!.secretHashes)).toBe(true);
      expect(matches(old as string, creds!.secretHashes)).toBe(false);
      expect(await t.count('client_secrets', { client_id: client.clientId })).toBe(1);
    });

    test('with an overlap both secrets are valid until it ends, then only the new one', async () => {
      const { client, clientSecret: old } = await t.registry.createClient({ name: 'c' });
      const rotated = await t.registry.rotateClientSecret(client.clientId, { overlapSeconds: 3600 });
      const fresh = rotated.clientSecret as string;
      expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(rotated.client.secrets.map((s) => s.expiresAt)).toEqual([null, t.clock.t + 3600]);

      let creds = await t.registry.findClientCredentials(client.clientId);
      expect(creds?.secretHashes).toHaveLength(2);
      expect(matches(old as string, creds!.secretHashes)).toBe(true);
      expect(matches(fresh, creds!.secretHashes)).toBe(true);

      t.clock.advance(3599);
      creds = await t.registry.findClientCredentials(client.clientId);
      expect(matches(old as string, creds!.secretHashes)).toBe(true);

      t.clock.advance(1); // the overlap ends exactly now
      creds = await t.registry.findClientCredentials(client.clientId);
      expect(creds?.secretHashes).toHaveLength(1);
      expect(matches(old as string, creds!.secretHashes)).toBe(false);
      expect(matches(fresh, creds!.secretHashes)).toBe(true);
      expect((await t.registry.getClient(client.clientId))?.secrets.map((s) => s.expiresAt)).toEqual([null]);
    });

    test('a second rotation during an overlap ends the oldest secret now: at most two are valid', async () => {
      const { client, clientSecret: first } = await t.registry.createClient({ name: 'c' });
      const { clientSecret: second } = await t.registry.rotateClientSecret(client.clientId, { overlapSeconds: 600 });
      t.clock.advance(10);
      const { clientSecret: third } = await t.registry.rotateClientSecret(client.clientId, { overlapSeconds: 600 });
      const creds = await t.registry.findClientCredentials(client.clientId);
      expect(creds?.secretHashes).toHaveLength(2);
      expect(matches(first as string, creds!.secretHashes)).toBe(false);
      expect(matches(second as string, creds!.secretHashes)).toBe(true);
      expect(matches(third as string, creds!.secretHashes)).toBe(true);
    });

    test("with an overlap the new secret is hashed with the current one's salt: one bcrypt run checks a secret against both", async () => {
      const { client, clientSecret: old } = await t.registry.createClient({ name: 'c' });
      const { clientSecret: fresh } = await t.registry.rotateClientSecret(client.clientId, { overlapSeconds: 3600 });
      const hashes = (await t.registry.findClientCredentials(client.clientId))?.secretHashes ?? [];
      expect(hashes).toHaveLength(2);
      expect(hashes[0].slice(0, 29)).toBe(hashes[1].slice(0, 29)); // "$2b$04$" and the 22-character salt
      expect(hashes[0]).not.toBe(hashes[1]);
      expect(matches(old as string, hashes)).toBe(true);
      expect(matches(fresh as string, hashes)).toBe(true);
      // A second overlapping rotation keeps the rule: the current secret's salt again.
      await t.registry.rotateClientSecret(client.clientId, { overlapSeconds: 3600 });
      const again = (await t.registry.findClientCredentials(client.clientId))?.secretHashes ?? [];
      expect(new Set(again.map((h) => h.slice(0, 29))).size).toBe(1);
    });

    test('a rotation to the current secret is refused, with or without overlap, and changes nothing', async () => {
      const current = 'the current secret, chosen';
      const { client } = await t.registry.createClient({ name: 'c', secret: current });
      const before = (await t.registry.findClientCredentials(client.clientId))?.secretHashes;
      for (const overlapSeconds of [0, 3600]) {
        await expect(t.registry.rotateClientSecret(client.clientId, { secret: current, overlapSeconds })).rejects.toMatchObject({ kind: 'invalid' });
      }
      expect((await t.registry.findClientCredentials(client.clientId))?.secretHashes).toEqual(before);
      // Another secret is a rotation like any other.
      const { clientSecret } = await t.registry.rotateClientSecret(client.clientId, { secret: `${current}, renewed` });
      expect(clientSecret).toBe(`${current}, renewed`);
    });

    test('a caller-chosen rotated secret follows the same 16..72 byte rule', async () => {
      const { client } = await t.registry.createClient({ name: 'c' });
      await expect(t.registry.rotateClientSecret(client.clientId, { secret: 'x'.repeat(73) })).rejects.toMatchObject({ kind: 'invalid' });
      await expect(t.registry.rotateClientSecret(client.clientId, { overlapSeconds: -1 })).rejects.toMatchObject({ kind: 'invalid' });
      await expect(t.registry.rotateClientSecret(client.clientId, { overlapSeconds: 1.5 })).rejects.toMatchObject({ kind: 'invalid' });
      const { clientSecret } = await t.registry.rotateClientSecret(client.clientId, { secret: 'y'.repeat(72) });
      expect(clientSecret).toBe('y'.repeat(72));
      await expect(t.registry.rotateClientSecret('nobody')).rejects.toMatchObject({ kind: 'not_found' });
    });
  });
});
