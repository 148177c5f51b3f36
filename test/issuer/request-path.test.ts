/**
 * The token endpoint's request path as issue 13 tuned it (README "Performance"): one router layer
 * per endpoint, the usual form body read without body-parser, Passport handed a small request view,
 * and a repeat client's request asking no throttle, resource or replay store. Each shortcut must
 * answer exactly as the long way does.
 */
import net from 'node:net';
import express, { type Request } from 'express';
import request from 'supertest';
import type { FailureThrottle } from '../../lib';
import { listen, rawRequest, type Listening } from '../support/http';
import { basic, expectTokenError } from '../support/oauth';
import { seedClient } from '../support/clients';
import { createTestServer, type TestServer } from '../support/servers';

const GRANT = 'grant_type=client_credentials';
const FORM = 'application/x-www-form-urlencoded';

let server: TestServer;
let clientId: string;
let clientSecret: string;
const faults: unknown[] = [];
beforeAll(async () => {
  server = createTestServer({ onServerError: (e) => faults.push(e) });
  ({ clientId, clientSecret } = await seedClient(server.auth, ['reports:read']));
});
afterAll(() => server.close());
afterEach(() => expect(faults).toEqual([]));

/** Exact bytes, with Content-Length (the direct path) or chunked (body-parser's path). */
const postBytes = (body: Buffer, framing: 'length' | 'chunked', headers: Record<string, string> = {}) =>
  rawRequest(server.app, {
    method: 'POST',
    path: '/oauth/token',
    headers: {
      Authorization: basic(clientId, clientSecret),
      'Content-Type': FORM,
      ...(framing === 'length' ? { 'Content-Length': String(body.length) } : { 'Transfer-Encoding': 'chunked' }),
      ...headers,
    },
    body,
  });

describe('the form body: read directly or by body-parser, the same answer', () => {
  test.each([['length' as const], ['chunked' as const]])(
    'RFC 6749 §3.2 (%s): a leading UTF-8 byte order mark is dropped, as body-parser drops it',
    async (framing) => {
      const res = await postBytes(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${GRANT}&scope=reports%3Aread`)]), framing);
      expect({ status: res.status, scope: res.body.scope }).toEqual({ status: 200, scope: 'reports:read' });
    },
  );

  test.each([['length' as const], ['chunked' as const]])('RFC 6749 §3.2 (%s): invalid UTF-8 reads as U+FFFD, never a 500', async (framing) => {
    const res = await postBytes(Buffer.concat([Buffer.from('grant_type='), Buffer.from([0xff, 0xfe, 0xc3])]), framing);
    expectTokenError(res, 400, 'unsupported_grant_type');
  });

  test.each([['length' as const], ['chunked' as const]])('RFC 6749 §3.2 (%s): a repeated parameter is invalid_request', async (framing) => {
    const res = await postBytes(Buffer.from(`${GRANT}&scope=reports:read&scope=reports:read`), framing);
    expectTokenError(res, 400, 'invalid_request');
  });

  test('RFC 6749 §3.2: charset=utf-8 (any case, spaces around ;) is the same body', async () => {
    for (const type of [`${FORM};charset=utf-8`, `${FORM} ; CHARSET=UTF-8`, 'APPLICATION/X-WWW-FORM-URLENCODED']) {
      const res = await postBytes(Buffer.from(GRANT), 'length', { 'Content-Type': type });
      expect({ type, status: res.status }).toEqual({ type, status: 200 });
    }
  });

  test('RFC 6749 §3.2: a body arriving in several packets is read whole', async () => {
    const listening = await listen(server.app);
    try {
      const body = `${GRANT}&scope=reports%3Aread`;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(listening.port, '127.0.0.1');
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (text += chunk));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
        const head = [
          'POST /oauth/token HTTP/1.1',
          `Host: 127.0.0.1:${listening.port}`,
          `Authorization: ${basic(clientId, clientSecret)}`,
          `Content-Type: ${FORM}`,
          `Content-Length: ${body.length}`,
          'Connection: close',
        ];
        socket.write(`${head.join('\r\n')}\r\n\r\n${body.slice(0, 10)}`);
        setTimeout(() => socket.write(body.slice(10, 20)), 30);
        setTimeout(() => socket.write(body.slice(20)), 60);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer).toContain('"scope":"reports:read"');
    } finally {
      await listening.stop();
    }
  });

  test('a client that goes away in the middle of its body gets nothing, costs no fault, and the endpoint goes on', async () => {
    const listening: Listening = await listen(server.app);
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(listening.port, '127.0.0.1');
        socket.on('error', reject);
        socket.on('connect', () => {
          const head = [
            'POST /oauth/token HTTP/1.1',
            'Host: x',
            `Authorization: ${basic(clientId, clientSecret)}`,
            `Content-Type: ${FORM}`,
            'Content-Length: 200',
          ];
          socket.write(`${head.join('\r\n')}\r\n\r\ngrant_type=client`);
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 50);
        });
      });
      await new Promise((r) => setTimeout(r, 50));
      const res = await request(server.app).post('/oauth/token').set('Authorization', basic(clientId, clientSecret)).type('form').send(GRANT);
      expect(res.status).toBe(200);
    } finally {
      await listening.stop();
    }
  });
});

describe('one layer per endpoint: the paths and methods the routes answered before', () => {
  test('a trailing slash is the token endpoint (Express routing is not strict)', async () => {
    const res = await request(server.app).post('/oauth/token/').set('Authorization', basic(clientId, clientSecret)).type('form').send(GRANT);
    expect(res.status).toBe(200);
  });

  test('a path below /token is not the endpoint: it falls through to the app (404)', async () => {
    const res = await request(server.app).post('/oauth/token/more').set('Authorization', basic(clientId, clientSecret)).type('form').send(GRANT);
    expect(res.status).toBe(404);
    expect(res.body.access_token).toBeUndefined();
  });

  test('RFC 6749 §3.2: HEAD and OPTIONS are 405 with Allow: POST, no-store and a request id', async () => {
    for (const method of ['HEAD', 'OPTIONS']) {
      const res = await rawRequest(server.app, { method, path: '/oauth/token' });
      expect({ method, status: res.status, allow: res.headers.allow, cacheControl: res.headers['cache-control'] }).toEqual({
        method,
        status: 405,
        allow: 'POST',
        cacheControl: 'no-store',
      });
      expect(res.headers['x-request-id']).toEqual(expect.any(String));
    }
  });

  test('a query string does not change the endpoint', async () => {
    const res = await request(server.app).post('/oauth/token?x=1').set('Authorization', basic(clientId, clientSecret)).type('form').send(GRANT);
    expect(res.status).toBe(200);
  });
});

test('Passport is handed a small request view: the Express request gains none of its session members', async () => {
  const seen: Request[] = [];
  const app = express();
  app.use((req, _res, next) => {
    seen.push(req);
    next();
  });
  app.use('/oauth', server.auth.tokenRouter());
  const res = await request(app).post('/oauth/token').set('Authorization', basic(clientId, clientSecret)).type('form').send(GRANT);
  expect(res.status).toBe(200);
  const added = ['login', 'logIn', 'logout', 'logOut', 'isAuthenticated', 'isUnauthenticated', '_sessionManager'].filter((name) => name in seen[0]);
  expect(added).toEqual([]);
});

describe('a repeat client asks nothing it does not need', () => {
  /** A FailureThrottle that never refuses and counts what it is asked. */
  function countingThrottle(): FailureThrottle & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      retryAfter: () => (calls.push('retryAfter'), Promise.resolve(0)),
      recordFailure: () => (calls.push('recordFailure'), Promise.resolve(0)),
      recordSuccess: () => (calls.push('recordSuccess'), Promise.resolve()),
    };
  }

  test('RFC 6749 §10.10: a secret verified before passes without the throttle (no counter read or written: no query on PostgreSQL)', async () => {
    const throttle = countingThrottle();
    const throttled = createTestServer({ throttle });
    try {
      const client = await seedClient(throttled.auth, ['reports:read']);
      const ask = () => request(throttled.app).post('/oauth/token').set('Authorization', basic(client.clientId, client.clientSecret)).type('form').send(GRANT);
      expect((await ask()).status).toBe(200);
      // The first success ran bcrypt: the throttle was asked before and after it, and told of the success.
      expect(throttle.calls).toEqual(['retryAfter', 'retryAfter', 'recordSuccess']);
      throttle.calls.length = 0;
      for (let i = 0; i < 3; i++) expect((await ask()).status).toBe(200);
      expect(throttle.calls).toEqual([]);
      // A wrong secret still goes through it.
      const wrong = await request(throttled.app).post('/oauth/token').set('Authorization', basic(client.clientId, 'not-the-secret')).type('form').send(GRANT);
      expectTokenError(wrong, 401, 'invalid_client');
      expect(throttle.calls).toContain('recordFailure');
    } finally {
      await throttled.close();
    }
  });

  test('RFC 8707 / RFC 9449: a request without resource or DPoP proof asks the registry about neither', async () => {
    const findResource = jest.spyOn(server.auth.registry, 'findResource');
    const useOnce = jest.spyOn(server.auth.registry, 'useOnce');
    try {
      const res = await request(server.app).post('/oauth/token').set('Authorization', basic(clientId, clientSecret)).type('form').send(GRANT);
      expect(res.status).toBe(200);
      expect(findResource).not.toHaveBeenCalled();
      expect(useOnce).not.toHaveBeenCalled();
    } finally {
      findResource.mockRestore();
      useOnce.mockRestore();
    }
  });
});
