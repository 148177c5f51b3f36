/**
 * Secret rotation: an overlap keeps the old secret valid for exactly its window and no longer, and
 * an immediate rotation ends the old secret at once, even when its last success was remembered by
 * the SecretVerifier (the HMAC fast path) and even when another process (the CLI) rotated it. During
 * an overlap a wrong secret costs what it costs outside one: the new secret shares the current one's
 * salt, so one bcrypt run checks both (no timing signal that a rotation is under way, no double cost).
 */
import bcrypt from 'bcryptjs';
import request from 'supertest';
import { openRegistry } from '../../lib';
import { BcryptPool, saltOf } from '../../lib/issuer/bcrypt-pool';
import { SecretVerifier } from '../../lib/issuer/secret-verifier';
import { bcryptRuns, CountingHasher, watchBcryptPools } from '../support/hasher';
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

test('overlap 2 s: old and new secrets both work, then the old one stops by itself', async () => {
  const { clientId, clientSecret: old } = await seedClient(server.auth);
  await ok(clientId, old); // remembered by the verifier
  const rotatedAt = Date.now();
  const { clientSecret: fresh } = await server.auth.rotateClientSecret(clientId, { overlapSeconds: 2 });
  expect(fresh).not.toBe(old);
  await ok(clientId, old);
  await ok(clientId, fresh as string);
  await ok(clientId, fresh as string);
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

describe('a wrong secret costs the same during an overlap as outside one', () => {
  const WRONG = 'wrong-secret-of-the-right-length-0123456789a';

  test('the two valid hashes share one salt, both secrets work, and a wrong secret costs one bcrypt run, as for a client in no overlap and an unknown id', async () => {
    const rotating = await seedClient(server.auth);
    const steady = await seedClient(server.auth);
    const { clientSecret: fresh } = await server.auth.rotateClientSecret(rotating.clientId, { overlapSeconds: 3600 });
    const hashes = (await server.auth.registry.findClientCredentials(rotating.clientId))?.secretHashes ?? [];
    expect(hashes).toHaveLength(2);
    expect(saltOf(hashes[0])).toBe(saltOf(hashes[1]));
    await ok(rotating.clientId, rotating.clientSecret);
    await ok(rotating.clientId, fresh as string);

    const bcryptCalls = watchBcryptPools();
    try {
      for (const id of [rotating.clientId, steady.clientId, 'AAAAAAAAAAAAAAAAAAAAAA']) expectInvalidClient(await tokenRequest(server.app, id, WRONG));
      expect(bcryptCalls.calls.map((call) => call.hashes.length)).toEqual([2, 1, 1]);
      expect(bcryptCalls.calls.map(bcryptRuns)).toEqual([1, 1, 1]);
    } finally {
      bcryptCalls.restore();
    }
  });

  test('SecretVerifier over a BcryptPool: one run per candidate and distinct salt, so a shared-salt overlap costs one run where two salts cost two', async () => {
    const pool = new BcryptPool({ workers: 1 });
    const hasher = new CountingHasher(pool);
    const verifier = new SecretVerifier(hasher, 4);
    try {
      const current = await bcrypt.hash('the current secret 0123', 4);
      const sharedSalt = await bcrypt.hash('the next secret 0123456', saltOf(current));
      const ownSalt = await bcrypt.hash('the next secret 0123456', 4);
      expect(await verifier.verify('in-overlap', [WRONG], [sharedSalt, current], 'a')).toBe(false);
      expect(await verifier.verify('steady', [WRONG], [current], 'a')).toBe(false);
      expect(await verifier.verify('unknown', [WRONG], null, 'a')).toBe(false);
      expect(hasher.calls.map(bcryptRuns)).toEqual([1, 1, 1]);
      // Both secrets of the overlap still match, through the one salt.
      expect(await verifier.verify('in-overlap', ['the current secret 0123'], [sharedSalt, current], 'a')).toBe(true);
      expect(await verifier.verify('in-overlap', ['the next secret 0123456'], [sharedSalt, current], 'a')).toBe(true);
      // What a rotation with a salt of its own would cost (the registry no longer writes those).
      expect(await verifier.verify('two-salts', [WRONG], [ownSalt, current], 'a')).toBe(false);
      expect(bcryptRuns(hasher.calls[hasher.calls.length - 1])).toBe(2);
    } finally {
      await hasher.close();
    }
  });
});
