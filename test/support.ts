/**
 * Shared test support on top of test/helpers.ts: registries on temp files with a controllable clock,
 * token requests, raw HTTP (for what supertest cannot send), JWT decoding and hand-made tokens.
 */
import { createHmac, createSign, randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { SqliteRegistry, type SqliteRegistryOptions } from '../lib';
import { basic, ISSUER, tempDir, type TestServer } from './helpers';

export { ISSUER };

/** A clock the tests move by hand (Unix seconds). */
export class TestClock {
  constructor(public t = 1_700_000_000) {}
  readonly now = (): number => this.t;
  advance(seconds: number): void {
    this.t += seconds;
  }
}

export interface TempRegistry {
  registry: SqliteRegistry;
  path: string;
  dir: string;
  clock: TestClock;
  /** Opens another connection to the same file (like the CLI next to a server). */
  reopen(options?: SqliteRegistryOptions): SqliteRegistry;
  cleanup(): Promise<void>;
}

/** A registry on a fresh temp file, bcrypt cost 4, with a test clock. */
export function tempRegistry(options: SqliteRegistryOptions = {}): TempRegistry {
  const { dir, cleanup } = tempDir('ccgate-reg-');
  const path = join(dir, 'registry.db');
  const clock = new TestClock();
  const opened: SqliteRegistry[] = [];
  const open = (extra: SqliteRegistryOptions = {}): SqliteRegistry => {
    const r = new SqliteRegistry(path, { bcryptCost: 4, now: clock.now, ...options, ...extra });
    opened.push(r);
    return r;
  };
  const registry = open();
  return {
    registry,
    path,
    dir,
    clock,
    reopen: open,
    async cleanup() {
      for (const r of opened) await r.close();
      cleanup();
    },
  };
}

/** RFC 6749 Appendix B form-urlencoding (space as '+'), as a browser or curl --data-urlencode does. */
export function formEncode(value: string): string {
  return new URLSearchParams([['v', value]]).toString().slice(2);
}

/** client_secret_basic with each part form-urlencoded per RFC 6749 §2.3.1 (spaces as '+'). */
export function basicForm(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`;
}

/** Basic credentials with no form-encoding at all (what most HTTP libraries send). */
export function basicRaw(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

/** POSTs a client_credentials request with client_secret_basic. */
export function tokenRequest(app: Express, clientId: string, clientSecret: string, extra: Record<string, string> = {}) {
  return request(app)
    .post('/oauth/token')
    .set('Authorization', basic(clientId, clientSecret))
    .type('form')
    .send({ grant_type: 'client_credentials', ...extra });
}

/** A fresh access token for the client, failing the test if the endpoint refuses. */
export async function getToken(server: Pick<TestServer, 'app'>, clientId: string, clientSecret: string, scope?: string): Promise<string> {
  const res = await tokenRequest(server.app, clientId, clientSecret, scope === undefined ? {} : { scope });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): any;
}

export interface RawRequestOptions {
  method?: string;
  path: string;
  /** Header values given as arrays are sent as repeated header lines. */
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

/** One request over a real socket with full control of the headers (e.g. two Authorization lines). */
export async function rawRequest(app: Express, options: RawRequestOptions): Promise<RawResponse> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<RawResponse>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, agent: false });
      for (const [name, value] of Object.entries(options.headers ?? {})) req.setHeader(name, value);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(options.body);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Writes `head` (request line and header lines, no final blank line) verbatim on a socket; parses the reply. */
export async function rawSocketRequest(app: Express, head: string): Promise<RawResponse> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.end(`${head}\r\nConnection: close\r\n\r\n`));
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
    });
    const [headText, ...rest] = text.split('\r\n\r\n');
    const [statusLine, ...headerLines] = headText.split('\r\n');
    const headers: http.IncomingHttpHeaders = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    // Express's res.json sends Content-Length; a chunked reply is not something these tests expect.
    if (headers['transfer-encoding'] !== undefined) throw new Error('rawSocketRequest reads Content-Length bodies only');
    const body = rest.join('\r\n\r\n');
    return { status: Number(statusLine.split(' ')[1]), headers, body, json: () => JSON.parse(body) };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, any>;
  signature: string;
}

/** Decodes a compact JWS by hand (no verification). */
export function decodeJwt(token: string): DecodedJwt {
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
    signature: s,
  };
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs a JWS by hand with a PEM private key using `alg` (RS256 or ES256); the header is written as
 * given, so it may claim another algorithm than the one actually used.
 */
export function signJws(privateKeyPem: string, alg: 'RS256' | 'ES256', header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const signer = createSign('sha256');
  signer.update(input);
  // RFC 7518 §3.4: ES256 signatures are the raw r||s pair, not DER.
  const signature = signer.sign({ key: privateKeyPem, dsaEncoding: alg === 'ES256' ? 'ieee-p1363' : 'der' }).toString('base64url');
  return `${input}.${signature}`;
}

/** An HS256 JWS keyed with arbitrary bytes (the classic "public key as HMAC secret" attack). */
export function signHs256(secret: string | Buffer, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** An unsecured JWS (alg none, empty signature). */
export function unsecuredJws(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64(header)}.${b64(payload)}.`;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Claims of a valid ccgate token for `clientId`, overridable claim by claim. */
export function claimsFor(clientId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds();
  return {
    iss: ISSUER,
    sub: clientId,
    aud: ISSUER,
    iat: now,
    exp: now + 300,
    jti: randomBytes(12).toString('base64url'),
    client_id: clientId,
    scope: 'reports:read',
    ...overrides,
  };
}

/** RFC 6749 §5.2 / RFC 6750 §3: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ). */
export const ERROR_DESCRIPTION_CHARS = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Asserts an RFC 6749 §5.2 error response: JSON, the code, a description in the allowed characters,
 * and RFC 6749 §5.1's no-store headers.
 */
export function expectTokenError(res: { status: number; headers: Record<string, any>; body: any }, status: number, code: string): void {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error: code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
  expect(res.body.error_description).toMatch(ERROR_DESCRIPTION_CHARS);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers.pragma).toBe('no-cache');
}

/** Parses `Bearer realm="x", error="y", ...` into its auth-params (quoted-string values unescaped). */
export function parseChallenge(header: string | undefined): { scheme: string; params: Record<string, string> } {
  if (header === undefined) throw new Error('no WWW-Authenticate header');
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z_]+)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
  re.lastIndex = space === -1 ? header.length : space + 1;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null) {
    params[m[1]] = m[2].replace(/\\(.)/g, '$1');
    if (re.lastIndex >= header.length) break;
  }
  return { scheme, params };
}

/** The fds of this process open on `path` (Linux: /proc/self/fd). */
export function openFdsOn(path: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(path)) count++;
    } catch {
      // the fd closed while we looked
    }
  }
  return count;
}
