/**
 * RemoteKeySet: a client's keys fetched from its jwks_uri (RFC 7591 §2, RFC 7517 §5), against real
 * servers on loopback (no fetch is mocked): refetch policy, timeouts, size, redirects, schemes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { RemoteFetchError } from '../../lib/errors';
import { RemoteKeySet, UNKNOWN_KID_FETCHES_PER_COOLDOWN, type RemoteKeySetPolicy } from '../../lib/remote';
import { listen, type Listening } from '../support/http';
import { sleep } from '../support/time';

const keyA = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyB = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwkA = { ...keyA.publicKey.export({ format: 'jwk' }), kid: 'a' };
const jwkB = { ...keyB.publicKey.export({ format: 'jwk' }), kid: 'b' };

/** A key server on 127.0.0.1 whose answer can be changed, counting the requests it gets. */
interface KeyServer extends Listening {
  url: string;
  requests: number;
  answer(handler: http.RequestListener): void;
}

const servers: { stop(): unknown }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

const serveJson =
  (document: unknown): http.RequestListener =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(document));
  };

async function keyServer(handler: http.RequestListener = serveJson({ keys: [jwkA] })): Promise<KeyServer> {
  let current = handler;
  const server: KeyServer = Object.assign(
    await listen((req, res) => {
      server.requests++;
      current(req, res);
    }),
    { url: '', requests: 0, answer: (h: http.RequestListener) => (current = h) },
  );
  server.url = `${server.origin}/jwks`;
  servers.push(server);
  return server;
}

/** A TCP server that accepts connections and never says a word (nor closes them). */
async function silentServer(): Promise<{ port: number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
  return { port: (server.address() as AddressInfo).port };
}

/**
 * A listening socket whose accept queue is full: a child process listens with a backlog of 1 and
 * then blocks (never accepts); filler connections take the queue, so a further connect never completes.
 */
async function fullBacklog(): Promise<{ port: number }> {
  const script = `
    const s = require('node:net').createServer();
    s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      require('node:fs').writeSync(1, String(s.address().port));
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    });`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString()))));
  const fillers = Array.from({ length: 3 }, () => net.connect({ host: '127.0.0.1', port }).on('error', () => undefined));
  await new Promise((resolve) => setTimeout(resolve, 200));
  servers.push({
    stop: () => {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
    },
  });
  return { port };
}

const LOOPBACK: RemoteKeySetPolicy = { allowHttpLoopback: true, refetchIntervalSeconds: 0, cooldownSeconds: 60 };

/** How keyFor failed: the RemoteFetchError's reason and message, and how long it took. */
async function failureOf(set: RemoteKeySet, kid = 'a'): Promise<{ reason: string; message: string; ms: number }> {
  const started = Date.now();
  try {
    await set.keyFor(kid, 'RS256');
  } catch (err) {
    if (!(err instanceof RemoteFetchError)) throw err;
    return { reason: err.reason, message: err.message, ms: Date.now() - started };
  }
  throw new Error('keyFor did not fail');
}

describe('RemoteKeySet: fetching and refetching', () => {
  test('the keys fetched are used for every lookup, with one fetch', async () => {
    const server = await keyServer(serveJson({ keys: [jwkA, jwkB] }));
    const set = new RemoteKeySet(server.url, LOOPBACK);
    expect(await set.keyFor('a', 'RS256')).toEqual({ kid: 'a', alg: 'RS256', key: expect.anything() });
    expect((await set.keyFor('a', 'PS256'))?.alg).toBe('PS256');
    expect((await set.keyFor('b', 'ES256'))?.key.asymmetricKeyType).toBe('ec');
    expect((await set.keyFor(undefined, 'ES256'))?.kid).toBe('b');
    expect(server.requests).toBe(1);
  });

  test('a key rollover is picked up on the first unknown kid', async () => {
    const server = await keyServer();
    const set = new RemoteKeySet(server.url, LOOPBACK);
    expect(await set.keyFor('a', 'RS256')).toBeDefined();
    expect(await set.keyFor('b', 'ES256')).toBeUndefined(); // not published yet: one refetch, nothing new
    server.answer(serveJson({ keys: [jwkA, jwkB] }));
    expect((await set.keyFor('b', 'ES256'))?.kid).toBe('b');
    expect(server.requests).toBe(3);
  });

  test(`garbage kids cause at most ${UNKNOWN_KID_FETCHES_PER_COOLDOWN} fetches per cooldown window (concurrent ones share a fetch)`, async () => {
    const server = await keyServer();
    const set = new RemoteKeySet(server.url, { allowHttpLoopback: true, refetchIntervalSeconds: 0.05, cooldownSeconds: 60 });
    await Promise.all(Array.from({ length: 25 }, (_, i) => set.keyFor(`garbage-${i}`, 'RS256')));
    for (let i = 0; i < 20; i++) expect(await set.keyFor(`more-garbage-${i}`, 'RS256')).toBeUndefined();
    expect(server.requests).toBeLessThanOrEqual(UNKNOWN_KID_FETCHES_PER_COOLDOWN);
    // The real key is still served from what is held.
    expect(await set.keyFor('a', 'RS256')).toBeDefined();
    expect(server.requests).toBeLessThanOrEqual(UNKNOWN_KID_FETCHES_PER_COOLDOWN);
  });

  test('a stale set is refetched (max age); when the server is gone, the keys held keep working', async () => {
    const server = await keyServer();
    const set = new RemoteKeySet(server.url, { allowHttpLoopback: true, maxAgeSeconds: 0, cooldownSeconds: 0, refetchIntervalSeconds: 0 });
    expect(await set.keyFor('a', 'RS256')).toBeDefined();
    await sleep(5); // older than the max age of 0
    expect(await set.keyFor('a', 'RS256')).toBeDefined();
    expect(server.requests).toBe(2);
    await sleep(5);
    await server.stop();
    expect(await set.keyFor('a', 'RS256')).toBeDefined();
  });

  test('after a failed fetch there is no fetch at all within the cooldown; with no key held the failure is thrown each time', async () => {
    const server = await keyServer((_req, res) => res.writeHead(500).end());
    const set = new RemoteKeySet(server.url, LOOPBACK);
    expect(await failureOf(set)).toMatchObject({ reason: 'bad_answer', message: `${server.url}: HTTP 500` });
    server.answer(serveJson({ keys: [jwkA] }));
    expect(await failureOf(set)).toMatchObject({ reason: 'bad_answer' });
    expect(await failureOf(set, 'b')).toMatchObject({ reason: 'bad_answer' });
    expect(server.requests).toBe(1);
  });

  test('a key failing the checks is skipped; the others are used', async () => {
    const small = { ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }), kid: 'small' };
    const server = await keyServer(serveJson({ keys: [small, { kty: 'EC', kid: 'bad', crv: 'P-256', x: 'AA', y: 'AA' }, jwkA] }));
    const set = new RemoteKeySet(server.url, LOOPBACK);
    expect(await set.keyFor('a', 'RS256')).toBeDefined();
    expect(await set.keyFor('small', 'RS256')).toBeUndefined();
  });

  test('a fetched set with a private key member is refused whole, and the keys held before are dropped too', async () => {
    const server = await keyServer();
    const set = new RemoteKeySet(server.url, { allowHttpLoopback: true, maxAgeSeconds: 0, cooldownSeconds: 0, refetchIntervalSeconds: 0 });
    expect(await set.keyFor('a', 'RS256')).toBeDefined();
    server.answer(serveJson({ keys: [jwkA, { ...keyB.privateKey.export({ format: 'jwk' }), kid: 'leak' }] }));
    await sleep(5);
    expect(await failureOf(set)).toMatchObject({
      reason: 'bad_answer',
      message: `${server.url}: key "leak" contains private key members (d): register the public key only`,
    });
  });

  test('an answer that is not JSON, or not a JWK Set, is bad_answer', async () => {
    const server = await keyServer((_req, res) => res.writeHead(200).end('<html>'));
    expect(await failureOf(new RemoteKeySet(server.url, LOOPBACK))).toMatchObject({ reason: 'bad_answer', message: `${server.url}: not JSON` });
    server.answer(serveJson({ key: [] }));
    expect(await failureOf(new RemoteKeySet(server.url, LOOPBACK))).toMatchObject({ reason: 'bad_answer' });
  });
});

describe('RemoteKeySet: bounds on the fetch', () => {
  test('a server that answers the headers and then stalls fails by the total timeout, quickly', async () => {
    const server = await keyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys": [');
    });
    const failure = await failureOf(new RemoteKeySet(server.url, { ...LOOPBACK, connectTimeoutMs: 5000, timeoutMs: 300 }));
    expect(failure).toMatchObject({ reason: 'timeout', message: `${server.url}: no complete answer within 300 ms` });
    expect(failure.ms).toBeLessThan(3000);
  });

  test('a server that accepts the connection but never answers fails by the total timeout (the connect bound was met)', async () => {
    const { port } = await silentServer();
    const failure = await failureOf(new RemoteKeySet(`http://127.0.0.1:${port}/jwks`, { ...LOOPBACK, connectTimeoutMs: 200, timeoutMs: 600 }));
    expect(failure).toMatchObject({ reason: 'timeout', message: expect.stringContaining('no complete answer within 600 ms') });
    expect(failure.ms).toBeLessThan(3000);
  });

  test('https: a TLS handshake that never completes fails by the connect timeout, not the total one', async () => {
    const { port } = await silentServer();
    const failure = await failureOf(new RemoteKeySet(`https://127.0.0.1:${port}/jwks`, { connectTimeoutMs: 300, timeoutMs: 20_000 }));
    expect(failure).toMatchObject({ reason: 'timeout', message: expect.stringContaining('no connection within 300 ms') });
    expect(failure.ms).toBeLessThan(3000);
  });

  test('a connect that cannot complete (a listening socket with a full accept queue) fails by the connect timeout', async () => {
    const { port } = await fullBacklog();
    const failure = await failureOf(new RemoteKeySet(`http://127.0.0.1:${port}/jwks`, { ...LOOPBACK, connectTimeoutMs: 300, timeoutMs: 20_000 }));
    expect(failure).toMatchObject({ reason: 'timeout', message: expect.stringContaining('no connection within 300 ms') });
    expect(failure.ms).toBeLessThan(3000);
  });

  test('a refused connection is unreachable', async () => {
    const server = await keyServer();
    await server.stop();
    expect(await failureOf(new RemoteKeySet(server.url, LOOPBACK))).toMatchObject({ reason: 'unreachable' });
  });

  test('https: a certificate that is not trusted is unreachable (certificates are verified)', async () => {
    const fixtures = join(__dirname, 'fixtures');
    const server = https.createServer(
      { key: readFileSync(join(fixtures, 'self-signed-key.pem')), cert: readFileSync(join(fixtures, 'self-signed-cert.pem')) },
      serveJson({ keys: [jwkA] }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({ stop: () => new Promise((resolve) => server.close(resolve)) });
    const failure = await failureOf(new RemoteKeySet(`https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`));
    expect(failure).toMatchObject({ reason: 'unreachable', message: expect.stringMatching(/self[- ]signed/i) });
  });

  test('a body over 64 KiB is too_large: told by Content-Length, or counted while reading', async () => {
    const big = JSON.stringify({ keys: [jwkA], padding: 'x'.repeat(70 * 1024) });
    const server = await keyServer((_req, res) => res.writeHead(200, { 'content-length': Buffer.byteLength(big) }).end(big));
    expect(await failureOf(new RemoteKeySet(server.url, LOOPBACK))).toMatchObject({ reason: 'too_large', message: `${server.url}: larger than 65536 bytes` });
    let written = 0;
    server.answer((_req, res) => {
      // Chunked, no Content-Length: 10 KiB at a time, for ever if nobody stops reading.
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => {
        written += 10 * 1024;
        res.write('x'.repeat(10 * 1024));
      }, 5);
      res.on('close', () => clearInterval(timer));
    });
    const failure = await failureOf(new RemoteKeySet(server.url, LOOPBACK));
    expect(failure).toMatchObject({ reason: 'too_large' });
    expect(written).toBeLessThan(1024 * 1024);
  });

  test('a redirect is not followed: 3xx is a failure, and its target is never asked', async () => {
    const target = await keyServer();
    const server = await keyServer((_req, res) => res.writeHead(302, { location: target.url }).end());
    expect(await failureOf(new RemoteKeySet(server.url, LOOPBACK))).toMatchObject({
      reason: 'redirect',
      message: `${server.url}: HTTP 302: redirects are not followed`,
    });
    server.answer((_req, res) => res.writeHead(308, { location: target.url }).end());
    expect(await failureOf(new RemoteKeySet(server.url, LOOPBACK))).toMatchObject({ reason: 'redirect' });
    expect(target.requests).toBe(0);
  });
});

describe('RemoteKeySet: schemes', () => {
  test('plain http to a host that is not loopback is insecure_url, allowed or not, without any connection', async () => {
    for (const allowHttpLoopback of [true, false]) {
      const failure = await failureOf(new RemoteKeySet('http://keys.example.com/jwks', { allowHttpLoopback }));
      expect(failure).toEqual({ reason: 'insecure_url', message: 'http://keys.example.com/jwks: jwks_uri must use https', ms: expect.any(Number) });
    }
  });

  test('plain http to loopback is insecure_url unless allowHttpLoopback is on (the default is off)', async () => {
    const server = await keyServer();
    expect(await failureOf(new RemoteKeySet(server.url))).toMatchObject({ reason: 'insecure_url' });
    expect(await failureOf(new RemoteKeySet(server.url, { allowHttpLoopback: false }))).toMatchObject({ reason: 'insecure_url' });
    expect(server.requests).toBe(0);
    expect(await new RemoteKeySet(server.url, { allowHttpLoopback: true }).keyFor('a', 'RS256')).toBeDefined();
    expect(await new RemoteKeySet(server.url.replace('127.0.0.1', 'localhost'), { allowHttpLoopback: true }).keyFor('a', 'RS256')).toBeDefined();
  });
});
