import { createPublicKey, createPrivateKey, createSign, createVerify } from 'node:crypto';
import {
  firstKeyChange,
  generateKey,
  KEY_REMOVAL_MARGIN_SECONDS,
  KEY_USE_GRANULARITY_SECONDS,
  rotationChange,
  statusOf,
} from '../../lib/registry/key-lifecycle';
import type { Registry } from '../../lib/registry/registry';
import { ContractRegistry, registryBackends } from '../support/backends';
import { jwkThumbprint } from '../support/jwt';

describe.each(registryBackends())('signing keys ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  test.each([['RS256'], ['ES256']] as const)('ensureSigningKey(%s) creates one active key, and only once', async (alg) => {
    const first = await t.registry.ensureSigningKey(alg);
    expect(first).toMatchObject({ alg, status: 'active', retiresAt: null, removeAfter: null, signedUntil: null, activatesAt: t.clock.t });
    const again = await t.registry.ensureSigningKey(alg);
    expect(again.kid).toBe(first.kid);
    expect((await t.registry.listKeys()).filter((k) => k.alg === alg)).toHaveLength(1);
  });

  test.each([['RS256'], ['ES256']] as const)('RFC 7638: a %s kid is the JWK thumbprint, and the public JWK matches the private key', async (alg) => {
    const key = await t.registry.ensureSigningKey(alg);
    expect(key.kid).toBe(jwkThumbprint(key.publicJwk as unknown as Record<string, unknown>));
    expect(key.publicJwk).toMatchObject({ kid: key.kid, alg, use: 'sig', kty: alg === 'RS256' ? 'RSA' : 'EC' });
    if (alg === 'ES256') expect(key.publicJwk.crv).toBe('P-256');
    // No private member leaks into the published JWK.
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key.publicJwk).not.toHaveProperty(member);
    const signer = createSign('sha256');
    signer.update('hello');
    const signature = signer.sign(createPrivateKey(key.privateKeyPem));
    const verifier = createVerify('sha256');
    verifier.update('hello');
    expect(verifier.verify(createPublicKey({ key: { ...key.publicJwk }, format: 'jwk' }), signature)).toBe(true);
  });

  test('RS256 and ES256 keys are independent', async () => {
    const rs = await t.registry.ensureSigningKey('RS256');
    const es = await t.registry.ensureSigningKey('ES256');
    expect(rs.kid).not.toBe(es.kid);
    expect((await t.registry.ensureSigningKey('RS256')).kid).toBe(rs.kid);
  });

  test('an unsupported algorithm is refused', async () => {
    await expect(t.registry.ensureSigningKey('HS256' as never)).rejects.toMatchObject({ kind: 'invalid' });
    await expect(t.registry.rotateKey({ alg: 'none' as never })).rejects.toMatchObject({ kind: 'invalid' });
    await expect(t.registry.rotateKey({ alg: 'RS256', leadSeconds: -1 })).rejects.toMatchObject({ kind: 'invalid' });
    expect(await t.registry.listKeys()).toEqual([]);
  });

  test('the signing key persists across reopen: same kid, same private key', async () => {
    const key = await t.registry.ensureSigningKey('RS256');
    await t.registry.close();
    const reopened = await t.another();
    const again = await reopened.ensureSigningKey('RS256');
    expect(again.kid).toBe(key.kid);
    expect(again.privateKeyPem).toBe(key.privateKeyPem);
    expect(await reopened.listKeys()).toHaveLength(1);
  });

  test('two connections starting at once end up with one key', async () => {
    const other = await t.another();
    const [a, b] = await Promise.all([t.registry.ensureSigningKey('ES256'), other.ensureSigningKey('ES256')]);
    expect(a.kid).toBe(b.kid);
    expect(await t.registry.listKeys()).toHaveLength(1);
  });

  test('rotateKey with a lead time: new key pending -> active, old key active -> retired, at the lead time', async () => {
    const old = await t.registry.ensureSigningKey('RS256');
    const start = t.clock.t;
    const fresh = await t.registry.rotateKey({ alg: 'RS256', leadSeconds: 600 });
    expect(fresh).toMatchObject({ status: 'pending', activatesAt: start + 600, retiresAt: null });

    const statuses = async () => Object.fromEntries((await t.registry.listKeys()).map((k) => [k.kid, k.status]));
    expect(await statuses()).toEqual({ [old.kid]: 'active', [fresh.kid]: 'pending' });
    // The old key keeps signing during the lead time.
    expect((await t.registry.ensureSigningKey('RS256')).kid).toBe(old.kid);

    t.clock.advance(599);
    expect(await statuses()).toEqual({ [old.kid]: 'active', [fresh.kid]: 'pending' });

    t.clock.advance(1);
    expect(await statuses()).toEqual({ [old.kid]: 'retired', [fresh.kid]: 'active' });
    expect((await t.registry.ensureSigningKey('RS256')).kid).toBe(fresh.kid);
    expect(await t.registry.listKeys()).toHaveLength(2);
  });

  test('rotateKey without a lead time activates at once and retires the previous key now', async () => {
    const old = await t.registry.ensureSigningKey('ES256');
    const fresh = await t.registry.rotateKey({ alg: 'ES256' });
    expect(fresh.status).toBe('active');
    const oldNow = (await t.registry.listKeys()).find((k) => k.kid === old.kid);
    expect(oldNow).toMatchObject({ status: 'retired', retiresAt: t.clock.t });
    expect((await t.registry.ensureSigningKey('ES256')).kid).toBe(fresh.kid);
  });

  test('rotating RS256 leaves the ES256 key alone', async () => {
    const es = await t.registry.ensureSigningKey('ES256');
    await t.registry.ensureSigningKey('RS256');
    await t.registry.rotateKey({ alg: 'RS256' });
    expect((await t.registry.listKeys()).find((k) => k.kid === es.kid)?.status).toBe('active');
  });

  test('a pending key superseded before it activates never signs (retired)', async () => {
    await t.registry.ensureSigningKey('RS256');
    const first = await t.registry.rotateKey({ alg: 'RS256', leadSeconds: 600 });
    const second = await t.registry.rotateKey({ alg: 'RS256', leadSeconds: 600 });
    t.clock.advance(600);
    const keys = await t.registry.listKeys();
    expect(keys.find((k) => k.kid === first.kid)?.status).toBe('retired');
    expect(keys.find((k) => k.kid === second.kid)?.status).toBe('active');
    expect(keys.filter((k) => k.status === 'active')).toHaveLength(1);
  });

  test('removeAfter is derived from signed_until: a retired key stays published until its last token expired (+ margin)', async () => {
    const old = await t.registry.ensureSigningKey('RS256');
    const start = t.clock.t;
    // The old key signed a token valid for an hour.
    await t.registry.recordKeyUse(old.kid, start + 3600);
    let rec = (await t.registry.listKeys()).find((k) => k.kid === old.kid)!;
    expect(rec.signedUntil).toBe(start + 3600 + KEY_USE_GRANULARITY_SECONDS);
    expect(rec.removeAfter).toBeNull(); // still signing

    await t.registry.rotateKey({ alg: 'RS256', leadSeconds: 60 });
    rec = (await t.registry.listKeys()).find((k) => k.kid === old.kid)!;
    expect(rec.retiresAt).toBe(start + 60);
    expect(rec.removeAfter).toBe(start + 3600 + KEY_USE_GRANULARITY_SECONDS + KEY_REMOVAL_MARGIN_SECONDS);

    // pruneKeys keeps it until then, removes it after.
    expect(await t.registry.pruneKeys(rec.removeAfter! - 1)).toBe(0);
    expect(await t.registry.listKeys()).toHaveLength(2);
    expect(await t.registry.pruneKeys(rec.removeAfter!)).toBe(1);
    expect((await t.registry.listKeys()).map((k) => k.kid)).not.toContain(old.kid);
  });

  test('a retired key that never signed is removable shortly after it retires', async () => {
    const old = await t.registry.ensureSigningKey('ES256');
    await t.registry.rotateKey({ alg: 'ES256', leadSeconds: 30 });
    const rec = (await t.registry.listKeys()).find((k) => k.kid === old.kid)!;
    expect(rec.removeAfter).toBe(t.clock.t + 30 + KEY_REMOVAL_MARGIN_SECONDS);
  });

  test('recordKeyUse only ever moves signed_until forward', async () => {
    const key = await t.registry.ensureSigningKey('RS256');
    const start = t.clock.t;
    await t.registry.recordKeyUse(key.kid, start + 1000);
    await t.registry.recordKeyUse(key.kid, start + 500);
    expect((await t.registry.listKeys())[0].signedUntil).toBe(start + 1000 + KEY_USE_GRANULARITY_SECONDS);
    await t.registry.recordKeyUse(key.kid, start + 2000);
    expect((await t.registry.listKeys())[0].signedUntil).toBe(start + 2000 + KEY_USE_GRANULARITY_SECONDS);
  });

  test('an active key is never pruned', async () => {
    await t.registry.ensureSigningKey('RS256');
    expect(await t.registry.pruneKeys(t.clock.t + 10 * 365 * 86400)).toBe(0);
    expect(await t.registry.listKeys()).toHaveLength(1);
  });

  test('an immediate rotation during a lead time leaves exactly one active key: the previous one retires now, not later', async () => {
    const a = await t.registry.ensureSigningKey('RS256');
    const b = await t.registry.rotateKey({ alg: 'RS256', leadSeconds: 600 });
    t.clock.advance(10);
    const c = await t.registry.rotateKey({ alg: 'RS256', leadSeconds: 0 });
    const keys = await t.registry.listKeys();
    const status = Object.fromEntries(keys.map((k) => [k.kid, k.status]));
    expect(status).toEqual({ [a.kid]: 'retired', [b.kid]: 'retired', [c.kid]: 'active' });
    expect(keys.find((k) => k.kid === a.kid)?.retiresAt).toBe(t.clock.t);
    expect((await t.registry.ensureSigningKey('RS256')).kid).toBe(c.kid);
    // Long after, still only the newest key is active.
    t.clock.advance(1000);
    expect((await t.registry.listKeys()).filter((k) => k.status === 'active').map((k) => k.kid)).toEqual([c.kid]);
  });

  test("a second lead-time rotation moves the current key's retirement to the new activation time", async () => {
    const a = await t.registry.ensureSigningKey('ES256');
    const start = t.clock.t;
    await t.registry.rotateKey({ alg: 'ES256', leadSeconds: 600 });
    const c = await t.registry.rotateKey({ alg: 'ES256', leadSeconds: 100 });
    expect((await t.registry.listKeys()).find((k) => k.kid === a.kid)?.retiresAt).toBe(start + 100);
    t.clock.advance(100);
    expect((await t.registry.listKeys()).filter((k) => k.status === 'active').map((k) => k.kid)).toEqual([c.kid]);
  });

  test('a key scheduled before any key signed keeps its schedule: the first signing key bridges until it activates', async () => {
    const scheduled = await t.registry.rotateKey({ alg: 'RS256', leadSeconds: 3600 });
    expect(scheduled.status).toBe('pending');
    const first = await t.registry.ensureSigningKey('RS256');
    expect(first.kid).not.toBe(scheduled.kid);
    expect(first).toMatchObject({ status: 'active', activatesAt: t.clock.t, retiresAt: scheduled.activatesAt });
    const keys = await t.registry.listKeys();
    expect(keys.find((k) => k.kid === scheduled.kid)).toMatchObject({ status: 'pending', retiresAt: null, activatesAt: scheduled.activatesAt });
    t.clock.t += 3600;
    const later = await t.registry.listKeys();
    expect(later.find((k) => k.kid === scheduled.kid)?.status).toBe('active');
    expect(later.find((k) => k.kid === first.kid)?.status).toBe('retired');
  });

  describe('compare-and-set: several instances on one database', () => {
    const activeKids = async (registry: Registry, alg: string) =>
      (await registry.listKeys()).filter((k) => k.alg === alg && k.status === 'active').map((k) => k.kid);

    test('two instances creating the first keys of both algorithms at once keep exactly one active key per algorithm', async () => {
      const other = await t.another();
      const [a, b, c, d] = await Promise.all([
        t.registry.ensureSigningKey('ES256'),
        other.ensureSigningKey('ES256'),
        other.ensureSigningKey('RS256'),
        t.registry.ensureSigningKey('RS256'),
      ]);
      expect(a.kid).toBe(b.kid);
      expect(c.kid).toBe(d.kid);
      expect(await t.registry.listKeys()).toHaveLength(2);
      expect(await activeKids(t.registry, 'ES256')).toEqual([a.kid]);
      expect(await activeKids(other, 'RS256')).toEqual([c.kid]);
    });

    test.each([[0], [600]])('two instances rotating at once (lead %ps): both rotations land, one after the other, and one key is active', async (lead) => {
      const other = await t.another();
      const first = await t.registry.ensureSigningKey('ES256');
      const [x, y] = await Promise.all([t.registry.rotateKey({ alg: 'ES256', leadSeconds: lead }), other.rotateKey({ alg: 'ES256', leadSeconds: lead })]);
      expect(await t.registry.listKeys()).toHaveLength(3);
      expect(await activeKids(t.registry, 'ES256')).toEqual(lead === 0 ? [expect.stringMatching(/.+/)] : [first.kid]);
      t.clock.advance(lead);
      const active = await activeKids(other, 'ES256');
      expect(active).toHaveLength(1);
      expect([x.kid, y.kid]).toContain(active[0]);
      t.clock.advance(10_000);
      expect(await activeKids(t.registry, 'ES256')).toEqual(active);
    });

    test('KeyStorage.apply refuses a change computed from keys that changed since (nothing written), and applies a current one', async () => {
      const mine = t.backend.storage.keys;
      const other = t.backend.openAnother();
      await other.open();
      const theirs = other.keys;
      const now = t.clock.t;
      const seen = await mine.list();
      const ours = firstKeyChange(seen, await generateKey('ES256', now), now);
      expect(await theirs.apply(firstKeyChange(seen, await generateKey('ES256', now), now))).toBe(true);
      expect(await mine.apply(ours)).toBe(false);
      const rows = await mine.list();
      expect(rows).toHaveLength(1);
      expect(rows[0].kid).not.toBe(ours.insert?.kid);
      const rotation = rotationChange(rows, await generateKey('ES256', now), 0, now);
      expect(await mine.apply(rotation)).toBe(true);
      const after = await theirs.list();
      expect(after.map((k) => [k.kid, statusOf(k, now)])).toEqual(
        expect.arrayContaining([
          [rows[0].kid, 'retired'],
          [rotation.insert?.kid, 'active'],
        ]),
      );
    });

    test('KeyStorage.apply compares sets of kids: the order of expectedKids does not matter, the algorithm does', async () => {
      const keys = t.backend.storage.keys;
      const now = t.clock.t;
      await t.registry.ensureSigningKey('ES256');
      await t.registry.rotateKey({ alg: 'ES256', leadSeconds: 60 });
      await t.registry.ensureSigningKey('RS256');
      const rows = await keys.list();
      const change = rotationChange(rows, await generateKey('ES256', now), 120, now);
      expect(change.expectedKids).toHaveLength(2);
      expect(await keys.apply({ ...change, expectedKids: [...change.expectedKids].reverse() })).toBe(true);
      expect(await keys.apply({ alg: 'RS256', expectedKids: [], retire: [], insert: null })).toBe(false);
    });
  });
});
