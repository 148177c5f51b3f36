/**
 * Secret rotation: an overlap keeps the old secret valid for exactly its window and no longer, and
 * an immediate rotation ends the old secret at once, even when its last success was remembered by
 * the SecretVerifier (the HMAC fast path) and even when another process (the CLI) rotated it.
 */
import request from 'supertest';
import { openRegistry } from '../../lib';
import { sleep } from '../support/time';
import { expectInvalidClient, tokenRequest } from '../support/oauth';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

let server: TestServer;
beforeAll(() => {
  server = createTestServer();
});
afterAll(() => server.close());

const ok = async (id: string, secret: string): Promise<void> => {
  const res = await tokenRequest(server.app, id, secret);
  expect(res.status).toBe(200);
};
const okPost = async (id: string, secret: string): Promise<void> => {
  const res = await request(server.app).post('/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: id, client_secret: secret });
  expect(res.status).toBe(200);
};

test('overlap 2 s: old and new secrets both work, then the old one stops by itself', async () => {
  const { clientId, clientSecret: old } = await seedClient(server.auth);
  await ok(clientId, old); // remembered by the verifier
  const rotatedAt = Date.now();
  const { clientSecret: fresh } = await server.auth.rotateClientSecret(clientId, { overlapSeconds: 2 });
  expect(fresh).not.toBe(old);
  await ok(clientId, old);
  await ok(clientId, fresh as string);
  await okPost(clientId, old);
  await ok(clientId, old); // alternating does not break either

  await sleep(rotatedAt + 3000 - Date.now());
  expectInvalidClient(await tokenRequest(server.app, clientId, old));
  await ok(clientId, fresh as string);
  const record = await server.auth.registry.getClient(clientId);
  expect(record?.secrets).toHaveLength(1);
});

test('overlap 0: the old secret stops at once, although its success was cached', async () => {
  const { clientId, clientSecret: old } = await seedClient(server.auth);
  await ok(clientId, old);
  await ok(clientId, old); // second time: served from the verifier's memory
  const { clientSecret: fresh } = await server.auth.rotateClientSecret(clientId, { overlapSeconds: 0 });
  expectInvalidClient(await tokenRequest(server.app, clientId, old));
  expectInvalidClient(
    await request(server.app).post('/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: clientId, client_secret: old }),
  );
  await ok(clientId, fresh as string);
});

test('an overlapping rotation followed by an immediate one ends both older secrets at once', async () => {
  const { clientId, clientSecret: first } = await seedClient(server.auth);
  await ok(clientId, first);
  const { clientSecret: second } = await server.auth.rotateClientSecret(clientId, { overlapSeconds: 3600 });
  await ok(clientId, first); // cached as matching the (still valid) first hash
  await ok(clientId, second as string);
  const { clientSecret: third } = await server.auth.rotateClientSecret(clientId, { overlapSeconds: 0 });
  expectInvalidClient(await tokenRequest(server.app, clientId, first));
  expectInvalidClient(await tokenRequest(server.app, clientId, second as string));
  await ok(clientId, third as string);
});

test('a second overlapping rotation ends the first overlap: never more than two valid secrets', async () => {
  const { clientId, clientSecret: first } = await seedClient(server.auth);
  await ok(clientId, first);
  const { clientSecret: second } = await server.auth.rotateClientSecret(clientId, { overlapSeconds: 3600 });
  const { clientSecret: third } = await server.auth.rotateClientSecret(clientId, { overlapSeconds: 3600 });
  expectInvalidClient(await tokenRequest(server.app, clientId, first));
  await ok(clientId, second as string);
  await ok(clientId, third as string);
});

test('rotated by another process on the same file (like the CLI): the cached old secret is refused at once', async () => {
  const { clientId, clientSecret: old } = await seedClient(server.auth);
  await ok(clientId, old);
  await ok(clientId, old);
  const cli = openRegistry(server.dbPath, { bcryptCost: 4, pruneIntervalSeconds: 0 });
  let fresh: string;
  try {
    fresh = (await cli.rotateClientSecret(clientId)).clientSecret as string;
  } finally {
    await cli.close();
  }
  expectInvalidClient(await tokenRequest(server.app, clientId, old));
  await ok(clientId, fresh);
});

test('disabling a client whose secret is cached refuses it at once; enabling restores it', async () => {
  const { clientId, clientSecret } = await seedClient(server.auth);
  await ok(clientId, clientSecret);
  await server.auth.registry.setClientEnabled(clientId, false);
  expectInvalidClient(await tokenRequest(server.app, clientId, clientSecret));
  await server.auth.registry.setClientEnabled(clientId, true);
  await ok(clientId, clientSecret);
});
