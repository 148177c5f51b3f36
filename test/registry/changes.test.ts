import bcrypt from 'bcryptjs';
import { ContractRegistry, registryBackends } from '../support/backends';
import { eventually, nowSeconds } from '../support/time';

const matches = (secret: string | null, hashes: string[] | undefined): boolean => hashes?.some((h) => bcrypt.compareSync(secret ?? '', h)) ?? false;

describe.each(registryBackends())('cached answers and change notification ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  test('a revocation, a disable or a delete made through ANOTHER instance is seen by the next status read (on SQLite the very next one)', async () => {
    await t.registry.createGroup('cache-g', ['a']);
    const { client } = await t.registry.createClient({ name: 'c', groups: ['cache-g'] });
    // Warm the cache: the same question twice.
    expect(await t.registry.tokenStatus('jti-1', client.clientId)).toBe('active');
    expect(await t.registry.tokenStatus('jti-1', client.clientId)).toBe('active');
    const other = await t.another();
    await other.revokeToken({ jti: 'jti-1', clientId: client.clientId, expiresAt: nowSeconds() + 600 });
    // Revoked before this instance ever saw it: asked about once the client's state is remembered again.
    await other.revokeToken({ jti: 'jti-3', clientId: client.clientId, expiresAt: nowSeconds() + 600 });
    await t.changesSeen();
    expect(await t.registry.tokenStatus('jti-1', client.clientId)).toBe('revoked');
    expect(await t.registry.tokenStatus('jti-2', client.clientId)).toBe('active');
    expect(await t.registry.tokenStatus('jti-3', client.clientId)).toBe('revoked');
    await other.setClientEnabled(client.clientId, false);
    await t.changesSeen();
    expect(await t.registry.tokenStatus('jti-2', client.clientId)).toBe('client_disabled');
    expect(await t.registry.tokenStatus('jti-4', client.clientId)).toBe('client_disabled');
    await other.deleteClient(client.clientId);
    // A client remembered as unknown: a revocation still wins over it.
    await other.revokeToken({ jti: 'jti-5', expiresAt: nowSeconds() + 600 });
    await t.changesSeen();
    expect(await t.registry.tokenStatus('jti-2', client.clientId)).toBe('client_unknown');
    expect(await t.registry.tokenStatus('jti-5', client.clientId)).toBe('revoked');
  });

  test('a new jti of a client already seen at this version costs one revocation read, not the client and revocation read', async () => {
    const { client } = await t.registry.createClient({ name: 'c' });
    // On PostgreSQL our own write is announced back by the feed: nothing is remembered until it is.
    await t.changesSeen();
    const revocations = Object.getPrototypeOf(t.backend.storage.revocations) as { status: () => unknown; revoked: () => unknown };
    const status = jest.spyOn(revocations, 'status');
    const revoked = jest.spyOn(revocations, 'revoked');
    try {
      expect(await t.registry.tokenStatus('a', client.clientId)).toBe('active');
      expect(await t.registry.tokenStatus('b', client.clientId)).toBe('active');
      expect({ status: status.mock.calls.length, revoked: revoked.mock.calls.length }).toEqual({ status: 1, revoked: 1 });
    } finally {
      status.mockRestore();
      revoked.mockRestore();
    }
  });

  test('a disable, a secret rotation or a scope change made through ANOTHER instance is seen by the next findClientCredentials (on SQLite the very next one)', async () => {
    await t.registry.createGroup('g', ['a']);
    const { client, clientSecret } = await t.registry.createClient({ name: 'c', groups: ['g'] });
    const other = await t.another();
    expect(await t.registry.findClientCredentials(client.clientId)).toMatchObject({ enabled: true, scopes: ['a'] });
    await other.setClientEnabled(client.clientId, false);
    await t.changesSeen();
    expect(await t.registry.findClientCredentials(client.clientId)).toMatchObject({ enabled: false });
    const rotated = await other.rotateClientSecret(client.clientId);
    await t.changesSeen();
    const creds = await t.registry.findClientCredentials(client.clientId);
    expect(matches(rotated.clientSecret, creds?.secretHashes)).toBe(true);
    expect(matches(clientSecret, creds?.secretHashes)).toBe(false);
    await other.addGroupScopes('g', ['b']);
    await t.changesSeen();
    expect((await t.registry.findClientCredentials(client.clientId))?.scopes).toEqual(['a', 'b']);
    await other.deleteClient(client.clientId);
    await t.changesSeen();
    expect(await t.registry.findClientCredentials(client.clientId)).toBeNull();
  });

  test('the credentials cache never serves a secret past the end of its overlap', async () => {
    const { client, clientSecret: old } = await t.registry.createClient({ name: 'c' });
    const { clientSecret: fresh } = await t.registry.rotateClientSecret(client.clientId, { overlapSeconds: 60 });
    // Cached now, with nothing written afterwards.
    expect((await t.registry.findClientCredentials(client.clientId))?.secretHashes).toHaveLength(2);
    t.clock.advance(59);
    expect(matches(old, (await t.registry.findClientCredentials(client.clientId))?.secretHashes)).toBe(true);
    t.clock.advance(1);
    const creds = await t.registry.findClientCredentials(client.clientId);
    expect(creds?.secretHashes).toHaveLength(1);
    expect(matches(old, creds?.secretHashes)).toBe(false);
    expect(matches(fresh, creds?.secretHashes)).toBe(true);
  });

  test('onChange listeners hear of a change made through another instance', async () => {
    const other = await t.another();
    let heard = 0;
    const stop = t.registry.onChange(() => heard++);
    await other.createGroup('g', ['a']);
    await eventually(() => {
      t.registry.version(); // asking is what makes a polled feed look
      return Promise.resolve(heard > 0 ? true : undefined);
    });
    stop();
    const before = heard;
    await other.createGroup('h', ['a']);
    t.registry.version();
    await t.registry.getGroup('h');
    expect(heard).toBe(before);
  });
});
