import { ContractRegistry, registryBackends } from '../support/backends';

describe.each(registryBackends())('revocations ($name)', (backend) => {
  const t = new ContractRegistry(backend);
  let clientId: string;
  beforeEach(async () => {
    clientId = (await t.registry.createClient({ name: 'c' })).client.clientId;
  });

  test('RFC 7009 §2: a revoked jti reads as revoked; others stay active', async () => {
    expect(await t.registry.tokenStatus('jti-1', clientId)).toBe('active');
    await t.registry.revokeToken({ jti: 'jti-1', clientId, expiresAt: t.clock.t + 300 });
    expect(await t.registry.tokenStatus('jti-1', clientId)).toBe('revoked');
    expect(await t.registry.tokenStatus('jti-2', clientId)).toBe('active');
  });

  test('tokenStatus reports a disabled, re-enabled and deleted client', async () => {
    await t.registry.setClientEnabled(clientId, false);
    expect(await t.registry.tokenStatus('j', clientId)).toBe('client_disabled');
    await t.registry.setClientEnabled(clientId, true);
    expect(await t.registry.tokenStatus('j', clientId)).toBe('active');
    await t.registry.deleteClient(clientId);
    expect(await t.registry.tokenStatus('j', clientId)).toBe('client_unknown');
    expect(await t.registry.tokenStatus('j', 'never-existed')).toBe('client_unknown');
  });

  test('revocation wins over the client state', async () => {
    await t.registry.revokeToken({ jti: 'j', clientId, expiresAt: t.clock.t + 60 });
    await t.registry.setClientEnabled(clientId, false);
    expect(await t.registry.tokenStatus('j', clientId)).toBe('revoked');
  });

  test('a revocation without a client id is still honoured', async () => {
    await t.registry.revokeToken({ jti: 'orphan', expiresAt: t.clock.t + 60 });
    expect(await t.registry.tokenStatus('orphan', clientId)).toBe('revoked');
  });

  test('revoking twice keeps the later expiry', async () => {
    await t.registry.revokeToken({ jti: 'j', clientId, expiresAt: t.clock.t + 500 });
    await t.registry.revokeToken({ jti: 'j', clientId, expiresAt: t.clock.t + 100 });
    expect(await t.registry.pruneRevocations(t.clock.t + 200)).toBe(0);
    expect(await t.registry.tokenStatus('j', clientId)).toBe('revoked');
  });

  test('pruneRevocations drops a revocation only once its token has expired by more than the clock tolerance (5 s)', async () => {
    const now = t.clock.t;
    await t.registry.revokeToken({ jti: 'expired-long-ago', clientId, expiresAt: now - 1000 });
    await t.registry.revokeToken({ jti: 'expired-within-tolerance', clientId, expiresAt: now - 4 });
    await t.registry.revokeToken({ jti: 'expires-now', clientId, expiresAt: now });
    expect(await t.registry.pruneRevocations()).toBe(1);
    expect(await t.registry.tokenStatus('expired-long-ago', clientId)).toBe('active');
    // A guard still accepts a token up to exp + tolerance: its revocation must outlive that.
    expect(await t.registry.tokenStatus('expired-within-tolerance', clientId)).toBe('revoked');
    expect(await t.registry.tokenStatus('expires-now', clientId)).toBe('revoked');
    t.clock.advance(4); // exp + 4: still within the tolerance of 'expires-now'
    expect(await t.registry.pruneRevocations()).toBe(1);
    expect(await t.registry.tokenStatus('expires-now', clientId)).toBe('revoked');
    t.clock.advance(1); // exp + 5: every guard now refuses it as expired
    expect(await t.registry.pruneRevocations()).toBe(1);
    expect(await t.registry.tokenStatus('expires-now', clientId)).toBe('active');
  });

  test.each([
    ['an empty jti', { jti: '', expiresAt: 1 }],
    ['a 257-character jti', { jti: 'j'.repeat(257), expiresAt: 1 }],
    ['a fractional expiry', { jti: 'j', expiresAt: 1.5 }],
  ])('revoking with %s is refused', async (_label, input) => {
    await expect(t.registry.revokeToken(input)).rejects.toMatchObject({ kind: 'invalid' });
  });

  test('RFC 7009 §2: a revocation is seen by every instance on the database', async () => {
    const other = await t.another();
    expect(await other.tokenStatus('j', clientId)).toBe('active');
    await t.registry.revokeToken({ jti: 'j', clientId, expiresAt: t.clock.t + 60 });
    await t.changesSeen();
    expect(await other.tokenStatus('j', clientId)).toBe('revoked');
  });
});
