import { statusOf } from '../../../lib/registry/key-lifecycle';
import { PostgresStorage } from '../../../lib/registry/postgres';
import type { KeyRecord } from '../../../lib/registry/types';
import { Registry } from '../../../lib/registry/registry';
import { describePostgres, useTestDatabase } from '../../support/postgres';

const INSTANCES = 5;

describePostgres('PostgreSQL signing keys across instances', () => {
  const db = useTestDatabase();
  let registries: Registry[] = [];
  const instances = async (schema: string): Promise<Registry[]> => {
    const made = Array.from({ length: INSTANCES }, () => new Registry(new PostgresStorage(db.url, { schema }), { pruneIntervalSeconds: 0 }));
    registries.push(...made);
    await Promise.all(made.map((r) => r.ready()));
    return made;
  };
  afterEach(async () => {
    for (const registry of registries) await registry.close();
    registries = [];
  });

  /** The most keys of one algorithm active at the same moment, now or at any later change of status. */
  const mostActiveAtOnce = (keys: KeyRecord[]): number => {
    const moments = new Set(keys.flatMap((k) => [k.activatesAt, k.retiresAt ?? k.activatesAt]));
    return Math.max(...[...moments].map((t) => keys.filter((k) => statusOf(k, t) === 'active').length));
  };
  const activeKids = async (registry: Registry, alg: string): Promise<string[]> =>
    (await registry.listKeys()).filter((k) => k.alg === alg && k.status === 'active').map((k) => k.kid);

  test('first starts of several instances at once create one key per algorithm, and all of them sign with it', async () => {
    const all = await instances('first_start');
    const keys = await Promise.all(all.flatMap((r) => [r.ensureSigningKey('ES256'), r.ensureSigningKey('RS256')]));
    const listed = await all[0].listKeys();
    expect(listed).toHaveLength(2);
    expect(new Set(keys.map((k) => k.kid))).toEqual(new Set(listed.map((k) => k.kid)));
    expect(await activeKids(all[0], 'ES256')).toHaveLength(1);
    expect(await activeKids(all[0], 'RS256')).toHaveLength(1);
  });

  test('concurrent rotations on several instances leave exactly one active key per algorithm', async () => {
    const all = await instances('rotations');
    await all[0].ensureSigningKey('ES256');
    const rotated = await Promise.all(all.map((r) => r.rotateKey({ alg: 'ES256' })));
    const listed = await all[0].listKeys();
    // Every rotation was applied (none lost), one after the other: one key per rotation plus the first.
    expect(listed).toHaveLength(INSTANCES + 1);
    expect(new Set(rotated.map((k) => k.kid)).size).toBe(INSTANCES);
    const active = await activeKids(all[0], 'ES256');
    expect(active).toHaveLength(1);
    expect(mostActiveAtOnce(listed)).toBe(1);
    expect(rotated.map((k) => k.kid)).toContain(active[0]);
  });

  test('concurrent rotations with a lead time never schedule two keys to sign at the same moment', async () => {
    const all = await instances('lead');
    const first = await all[0].ensureSigningKey('ES256');
    await Promise.all(all.map((r) => r.rotateKey({ alg: 'ES256', leadSeconds: 600 })));
    const keys = await all[0].listKeys();
    expect(keys).toHaveLength(INSTANCES + 1);
    expect(keys.filter((k) => k.status === 'active').map((k) => k.kid)).toEqual([first.kid]);
    expect(mostActiveAtOnce(keys)).toBe(1);
  });
});
