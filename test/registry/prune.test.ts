import { ContractRegistry, registryBackends } from '../support/backends';
import { nowSeconds } from '../support/time';

describe.each(registryBackends())('pruning and the failure throttle ($name)', (backend) => {
  const t = new ContractRegistry(backend);
  const limiterOptions = { keyPrefix: 'contract-fail', points: 2, durationSeconds: 60, blockDurationSeconds: 60 };

  test('pruneExpired deletes replay entries expired at or before now, revocations expired by more than the clock tolerance (5 s), and keeps the rest', async () => {
    const now = t.clock.t;
    await t.registry.revokeToken({ jti: 'gone', expiresAt: now - 6 });
    await t.registry.revokeToken({ jti: 'gone-now', expiresAt: now - 5 });
    await t.registry.revokeToken({ jti: 'kept', expiresAt: now - 4 });
    await t.registry.useOnce('dpop', 'old', now - 5);
    await t.registry.useOnce('dpop', 'at-now', now);
    await t.registry.useOnce('dpop', 'live', now + 1);
    expect(await t.registry.pruneExpired()).toMatchObject({ revocations: 2, replay: 2, keys: 0 });
    expect(await t.registry.tokenStatus('kept', 'nobody')).toBe('revoked');
    expect(await t.registry.tokenStatus('gone-now', 'nobody')).toBe('client_unknown');
    expect(await t.registry.useOnce('dpop', 'live', now + 60)).toBe(false);
    expect(await t.registry.pruneExpired()).toMatchObject({ revocations: 0, replay: 0 });
  });

  test('pruneExpired also removes keys nobody can need any more', async () => {
    await t.registry.ensureSigningKey('ES256');
    await t.registry.rotateKey({ alg: 'ES256' });
    const retired = (await t.registry.listKeys()).find((k) => k.status === 'retired');
    expect(await t.registry.pruneExpired(retired!.removeAfter! - 1)).toMatchObject({ keys: 0 });
    expect(await t.registry.pruneExpired(retired!.removeAfter!)).toMatchObject({ keys: 1 });
    expect((await t.registry.listKeys()).map((k) => k.kid)).not.toContain(retired!.kid);
  });

  test('a revocation pruned by another instance is not served from this one’s cache', async () => {
    const other = await t.another();
    await t.registry.revokeToken({ jti: 'j', expiresAt: t.clock.t + 10 });
    expect(await t.registry.tokenStatus('j', 'nobody')).toBe('revoked');
    await other.pruneExpired(t.clock.t + 15);
    await t.changesSeen();
    expect(await t.registry.tokenStatus('j', 'nobody')).toBe('client_unknown');
  });

  test('RFC 6749 §10.10: throttle counters are shared by every instance: failures counted on one lock the key on the other', async () => {
    const other = await t.another();
    const here = t.registry.limiter(limiterOptions);
    const there = other.limiter(limiterOptions);
    await here.consume('client-1');
    await there.consume('client-1');
    await expect(here.consume('client-1')).rejects.toMatchObject({ remainingPoints: 0 });
    expect(await there.get('client-1')).toMatchObject({ consumedPoints: 3 });
    // Other keys, and other families (key prefixes), have their own counters.
    expect(await there.get('client-2')).toBeNull();
    expect(await other.limiter({ ...limiterOptions, keyPrefix: 'contract-other' }).get('client-1')).toBeNull();
    await here.delete('client-1');
    expect(await there.get('client-1')).toBeNull();
  });

  test('pruneExpired deletes the throttle rows whose window ended at or before then', async () => {
    const limiter = t.registry.limiter({ ...limiterOptions, durationSeconds: 1, blockDurationSeconds: 0 });
    await limiter.consume('a');
    await limiter.consume('b');
    // The limiter counts on the real clock: its windows end within a second of now.
    expect(await t.registry.pruneExpired(nowSeconds() - 60)).toMatchObject({ throttle: 0 });
    expect(await t.registry.pruneExpired(nowSeconds() + 5)).toMatchObject({ throttle: 2 });
    expect(await limiter.get('a')).toBeNull();
  });
});
