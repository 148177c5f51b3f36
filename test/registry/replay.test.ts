import { ContractRegistry, registryBackends } from '../support/backends';

describe.each(registryBackends())('single-use ids: the replay cache ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  test('RFC 7523 §3: the first use of a jti is accepted, a replay before it expires is refused', async () => {
    const until = t.clock.t + 60;
    expect(await t.registry.useOnce('assertion', 'jti-1', until)).toBe(true);
    expect(await t.registry.useOnce('assertion', 'jti-1', until)).toBe(false);
    expect(await t.registry.useOnce('assertion', 'jti-1', until + 600)).toBe(false);
    expect(await t.registry.useOnce('assertion', 'jti-2', until)).toBe(true);
  });

  test('namespaces are apart: the same id in two namespaces is two first uses', async () => {
    expect(await t.registry.useOnce('assertion', 'same', t.clock.t + 60)).toBe(true);
    expect(await t.registry.useOnce('dpop', 'same', t.clock.t + 60)).toBe(true);
    expect(await t.registry.useOnce('dpop', 'same', t.clock.t + 60)).toBe(false);
  });

  test('an entry that expired at or before now counts as unused: the id is accepted again, and recorded again', async () => {
    expect(await t.registry.useOnce('dpop', 'j', t.clock.t + 10)).toBe(true);
    t.clock.advance(9);
    expect(await t.registry.useOnce('dpop', 'j', t.clock.t + 10)).toBe(false);
    t.clock.advance(1); // expired exactly now
    expect(await t.registry.useOnce('dpop', 'j', t.clock.t + 10)).toBe(true);
    expect(await t.registry.useOnce('dpop', 'j', t.clock.t + 10)).toBe(false);
  });

  test('shared by every instance: a jti used on one is a replay on the other', async () => {
    const other = await t.another();
    expect(await t.registry.useOnce('assertion', 'j', t.clock.t + 60)).toBe(true);
    expect(await other.useOnce('assertion', 'j', t.clock.t + 60)).toBe(false);
  });

  test('atomic: of many concurrent uses of one id on two instances exactly one is accepted', async () => {
    const other = await t.another();
    const uses = Array.from({ length: 20 }, (_, i) => (i % 2 ? other : t.registry).useOnce('assertion', 'race', t.clock.t + 60));
    expect((await Promise.all(uses)).filter(Boolean)).toHaveLength(1);
  });
});
