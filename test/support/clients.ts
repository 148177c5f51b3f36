/** Seeding the registry: a group and a confidential client in it. */
import { randomBytes } from 'node:crypto';
import type { Ccgate } from '../../lib';
import type { ClientAuth } from './oauth';

export interface SeededClient extends ClientAuth {
  group: string;
}

export interface SeedOptions {
  /** The group's name (default: a fresh random one). */
  group?: string;
  /** The client's token lifetime in seconds (default: the registry's). */
  tokenTtl?: number;
}

/** Creates a group holding `scopes` and a confidential client in it. */
export async function seedClient(auth: Ccgate, scopes: string[] = ['reports:read'], options: SeedOptions = {}): Promise<SeededClient> {
  const group = options.group ?? `g${randomBytes(4).toString('hex')}`;
  await auth.registry.createGroup(group, scopes);
  const created = await auth.registry.createClient({ name: 'test client', groups: [group], tokenTtl: options.tokenTtl });
  return { clientId: created.client.clientId, clientSecret: created.clientSecret as string, group };
}
