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
  /** How the client authenticates (default client_secret_basic); the seeded ClientAuth then uses that method. */
  authMethod?: 'client_secret_basic' | 'client_secret_post';
}

/** Creates a group holding `scopes` and a confidential client in it. */
export async function seedClient(auth: Ccgate, scopes: string[] = ['reports:read'], options: SeedOptions = {}): Promise<SeededClient> {
  const group = options.group ?? `g${randomBytes(4).toString('hex')}`;
  await auth.registry.createGroup(group, scopes);
  const created = await auth.registry.createClient({ name: 'test client', groups: [group], tokenTtl: options.tokenTtl, authMethod: options.authMethod });
  const method = options.authMethod === 'client_secret_post' ? ('post' as const) : ('basic' as const);
  return { clientId: created.client.clientId, clientSecret: created.clientSecret as string, group, method };
}

/** Where a private_key_jwt client's public keys are (the registry's ClientKeysSource). */
export type KeySource = { jwks: unknown } | { jwksUri: string };

export interface SeededKeyClient {
  clientId: string;
  group: string;
}

/** Creates a group holding `scopes` and a private_key_jwt client in it with these keys (RFC 7523). */
export async function seedKeyClient(auth: Ccgate, keys: KeySource, scopes: string[] = ['reports:read'], options: SeedOptions = {}): Promise<SeededKeyClient> {
  const group = options.group ?? `g${randomBytes(4).toString('hex')}`;
  await auth.registry.createGroup(group, scopes);
  const created = await auth.registry.createClient({ name: 'key client', groups: [group], tokenTtl: options.tokenTtl, authMethod: 'private_key_jwt', ...keys });
  return { clientId: created.client.clientId, group };
}
