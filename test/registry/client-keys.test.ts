import { generateKeyPairSync } from 'node:crypto';
import { ContractRegistry, registryBackends } from '../support/backends';

/** A public JWK (and, on request, its private members) of a fresh key. */
function jwkOf(kid: string, type: 'rsa' | 'ec' = 'ec', withPrivate = false): Record<string, unknown> {
  const pair = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = (withPrivate ? pair.privateKey : pair.publicKey).export({ format: 'jwk' });
  return { ...jwk, kid };
}

describe.each(registryBackends())('private_key_jwt clients ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  test('RFC 7523: a private_key_jwt client has its public keys and no secret; credentials carry the method and the keys', async () => {
    await t.registry.createGroup('g', ['reports:read']);
    const { client, clientSecret } = await t.registry.createClient({
      name: 'job',
      groups: ['g'],
      authMethod: 'private_key_jwt',
      jwks: { keys: [jwkOf('k1'), jwkOf('k2', 'rsa')] },
    });
    expect(clientSecret).toBeNull();
    expect(client).toMatchObject({ authMethod: 'private_key_jwt', jwksUri: null, secrets: [], type: 'confidential' });
    expect(client.jwks?.keys.map((k) => k.kid)).toEqual(['k1', 'k2']);
    expect(await t.count('client_secrets', { client_id: client.clientId })).toBe(0);
    const credentials = await t.registry.findClientCredentials(client.clientId);
    expect(credentials).toMatchObject({ authMethod: 'private_key_jwt', secretHashes: [], scopes: ['reports:read'] });
    expect(credentials?.jwks).toEqual(client.jwks);
  });

  test('private members are refused with the kid named; nothing is written', async () => {
    const attempt = t.registry.createClient({ name: 'job', authMethod: 'private_key_jwt', jwks: { keys: [jwkOf('leaky', 'ec', true)] } });
    await expect(attempt).rejects.toMatchObject({ kind: 'invalid', message: expect.stringMatching(/"leaky".*private/) });
    expect(await t.registry.listClients()).toEqual([]);
  });

  test('stored keys hold public members only, whatever extra members were sent', async () => {
    const jwk = { ...jwkOf('k1'), ext: true, key_ops: ['verify'], x5u: 'https://evil.example.com' };
    const { client } = await t.registry.createClient({ name: 'job', authMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
    const stored = client.jwks?.keys[0] as unknown as Record<string, unknown>;
    expect(Object.keys(stored).sort()).toEqual(expect.arrayContaining(['crv', 'kid', 'kty', 'x', 'y']));
    expect(stored).not.toHaveProperty('x5u');
    expect(stored).not.toHaveProperty('d');
  });

  test('a jwks_uri is https (or http to a loopback host); exactly one of jwks and jwksUri', async () => {
    const { client } = await t.registry.createClient({ name: 'a', authMethod: 'private_key_jwt', jwksUri: 'https://client.example.com/jwks.json' });
    expect(client).toMatchObject({ jwks: null, jwksUri: 'https://client.example.com/jwks.json' });
    await t.registry.createClient({ name: 'b', authMethod: 'private_key_jwt', jwksUri: 'http://127.0.0.1:8080/jwks' });
    await expect(t.registry.createClient({ name: 'c', authMethod: 'private_key_jwt', jwksUri: 'http://client.example.com/jwks' })).rejects.toMatchObject({
      kind: 'invalid',
    });
    await expect(t.registry.createClient({ name: 'd', authMethod: 'private_key_jwt' })).rejects.toMatchObject({ kind: 'invalid' });
    await expect(
      t.registry.createClient({ name: 'e', authMethod: 'private_key_jwt', jwks: { keys: [jwkOf('k')] }, jwksUri: 'https://client.example.com/jwks' }),
    ).rejects.toMatchObject({ kind: 'invalid' });
    await expect(t.registry.createClient({ name: 'f', jwks: { keys: [jwkOf('k')] } })).rejects.toMatchObject({ kind: 'invalid' });
    await expect(
      t.registry.createClient({ name: 'g', authMethod: 'private_key_jwt', secret: 'a'.repeat(20), jwks: { keys: [jwkOf('k')] } }),
    ).rejects.toMatchObject({
      kind: 'invalid',
    });
    expect((await t.registry.listClients()).map((c) => c.name).sort()).toEqual(['a', 'b']);
  });

  test('setClientJwks replaces the keys at once (a rollover), and another instance sees it', async () => {
    const { client } = await t.registry.createClient({ name: 'job', authMethod: 'private_key_jwt', jwks: { keys: [jwkOf('old')] } });
    const other = await t.another();
    expect((await other.findClientCredentials(client.clientId))?.jwks?.keys.map((k) => k.kid)).toEqual(['old']);
    await t.registry.setClientJwks(client.clientId, { jwks: { keys: [jwkOf('old'), jwkOf('new')] } });
    await t.changesSeen();
    expect((await other.findClientCredentials(client.clientId))?.jwks?.keys.map((k) => k.kid)).toEqual(['old', 'new']);
    const moved = await t.registry.setClientJwks(client.clientId, { jwksUri: 'https://client.example.com/jwks' });
    expect(moved).toMatchObject({ jwks: null, jwksUri: 'https://client.example.com/jwks' });
  });

  test('a secret client has no keys to set, and a private_key_jwt client no secret to rotate', async () => {
    const secretClient = await t.registry.createClient({ name: 's', authMethod: 'client_secret_post' });
    expect(secretClient.client.authMethod).toBe('client_secret_post');
    await expect(t.registry.setClientJwks(secretClient.client.clientId, { jwks: { keys: [jwkOf('k')] } })).rejects.toMatchObject({ kind: 'invalid' });
    const { client } = await t.registry.createClient({ name: 'job', authMethod: 'private_key_jwt', jwks: { keys: [jwkOf('k')] } });
    await expect(t.registry.rotateClientSecret(client.clientId)).rejects.toMatchObject({ kind: 'invalid' });
    await expect(t.registry.setClientJwks('nobody', { jwks: { keys: [jwkOf('k')] } })).rejects.toMatchObject({ kind: 'not_found' });
  });

  test('an unknown method is refused; existing clients default to client_secret_basic', async () => {
    await expect(t.registry.createClient({ name: 'x', authMethod: 'tls_client_auth' as never })).rejects.toMatchObject({ kind: 'invalid' });
    expect((await t.registry.createClient({ name: 'y' })).client.authMethod).toBe('client_secret_basic');
  });
});

describe.each(registryBackends())('a secret client switching methods ($name)', (backend) => {
  const t = new ContractRegistry(backend);

  test('RFC 6749 §2.3.1: client_secret_basic <-> client_secret_post; credentials follow; the DPoP policy is kept', async () => {
    const { client } = await t.registry.createClient({ name: 's' });
    await t.registry.setClientDpop(client.clientId, 'required');
    expect((await t.registry.findClientCredentials(client.clientId))?.authMethod).toBe('client_secret_basic');
    const switched = await t.registry.setClientAuthMethod(client.clientId, 'client_secret_post');
    expect(switched).toMatchObject({ authMethod: 'client_secret_post', dpop: 'required' });
    expect((await t.registry.findClientCredentials(client.clientId))?.authMethod).toBe('client_secret_post');
    await expect(t.registry.setClientAuthMethod(client.clientId, 'private_key_jwt')).rejects.toMatchObject({ kind: 'invalid' });
    await expect(t.registry.setClientAuthMethod('nobody', 'client_secret_post')).rejects.toMatchObject({ kind: 'not_found' });
  });
});
