/**
 * Support for the adversarial suite: assertions on RFC 6749 / 6750 error answers, raw HTTP for what
 * supertest refuses to send, an audit-event recorder, and token forging with the registry's real key.
 */
import { createHmac, createPublicKey, createSign } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Express } from 'express';
import jwt from 'jsonwebtoken';
import type { AuditEvent, Ccgate } from '../../lib';
import { ISSUER, type TestServer } from '../helpers';
import { expectTokenError, getToken as sharedGetToken, tokenRequest } from '../support';

export { ISSUER };

/** The built package and CLI (child processes need them: run `npm run build` first). */
export const DIST = join(__dirname, '..', '..', 'dist', 'lib');
export const CLI = join(DIST, 'cli', 'main.js');
export const SERVER_SCRIPT = join(__dirname, 'fixtures', 'server.js');

/** RFC 6749 §5.2 error codes (the token endpoint may answer nothing else). */
export const RFC6749_ERRORS = ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope'];

interface ResponseLike {
  status: number;
  headers: Record<string, any>;
  body: any;
}

export { expectTokenError };

/** invalid_client answered 401 with a Basic challenge (RFC 6749 §5.2). */
export function expectInvalidClient(res: ResponseLike): void {
  expectTokenError(res, 401, 'invalid_client');
  expect(res.headers['www-authenticate']).toBe('Basic realm="ccgate"');
}

/** The throttle's answer: 429, invalid_client, a Retry-After of whole seconds within the window. */
export function expectThrottled(res: ResponseLike, windowSeconds: number): number {
  expectTokenError(res, 429, 'invalid_client');
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  return retryAfter;
}

/** Parses `Bearer realm="x", error="y", ...` (quoted values unescaped). */
export function parseChallenge(header: string | undefined): { scheme: string; params: Record<string, string> } {
  if (header === undefined) throw new Error('no WWW-Authenticate header');
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z_]+)="((?:[^"\\]|\\.)*)"\s*,?/g;
  re.lastIndex = space === -1 ? header.length : space + 1;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null) params[m[1]] = m[2].replace(/\\(.)/g, '$1');
  return { scheme, params };
}

/** An RFC 6750 §3 bearer error: exact status and code, a Bearer challenge carrying the same code. */
export function expectBearerError(res: ResponseLike, status: number, code: string): Record<string, string> {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error: code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const challenge = parseChallenge(res.headers['www-authenticate']);
  expect(challenge.scheme).toBe('Bearer');
  expect(challenge.params.realm).toBe('ccgate');
  expect(challenge.params.error).toBe(code);
  return challenge.params;
}

export { tokenRequest };

/** A fresh access token (the shared helper takes a server; these tests hold an app). */
export const getToken = (app: Express, clientId: string, clientSecret: string, scope?: string): Promise<string> =>
  sharedGetToken({ app }, clientId, clientSecret, scope);

/** Basic credentials from raw bytes (no encoding of any kind applied). */
export function basicBytes(bytes: Buffer | string): string {
  return `Basic ${Buffer.from(bytes).toString('base64')}`;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
  text: string;
}

/**
 * One request written byte for byte on a socket to a listening copy of `app`: repeated header lines,
 * latin1 bytes in a header, anything. `head` is the request line and header lines, without the final CRLF.
 */
export async function rawHttp(app: Express | http.RequestListener, head: string[], body: Buffer | string = ''): Promise<RawResponse> {
  const server = http.createServer(app as http.RequestListener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<RawResponse>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      let done = false;
      // Settles once the whole response is in (Content-Length or the last chunk), or on close: the
      // server may keep the socket open waiting for a request body it will never read.
      const settle = (final: boolean): void => {
        if (done) return;
        const raw = Buffer.concat(chunks);
        const split = raw.indexOf('\r\n\r\n');
        if (split === -1) {
          if (final) reject(new Error(`no HTTP response: ${raw.toString('latin1')}`));
          return;
        }
        const headLines = raw.subarray(0, split).toString('latin1').split('\r\n');
        const status = Number(headLines[0].split(' ')[1]);
        const headers: http.IncomingHttpHeaders = {};
        for (const line of headLines.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const rest = raw.subarray(split + 4);
        const chunked = /chunked/i.test(String(headers['transfer-encoding']));
        const length = Number(headers['content-length'] ?? NaN);
        const complete = chunked ? rest.includes('\r\n0\r\n\r\n') || rest.subarray(0, 5).toString() === '0\r\n\r\n' : rest.length >= length;
        if (!complete && !final) return;
        done = true;
        socket.destroy();
        const text = chunked ? dechunk(rest.toString('utf8')) : rest.toString('utf8');
        let parsed: unknown = undefined;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status, headers, body: parsed, text });
      };
      socket.on('data', (c: Buffer) => {
        chunks.push(c);
        settle(false);
      });
      socket.on('error', (err) => (done ? undefined : reject(err)));
      socket.on('close', () => settle(true));
      const payload = Buffer.from(body);
      const lines = [...head, `Host: 127.0.0.1:${port}`, 'Connection: close'];
      if (payload.length > 0) lines.push(`Content-Length: ${payload.length}`);
      socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]));
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol === -1) return out;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** Records every audit event of an instance. */
export class EventLog {
  readonly events: AuditEvent[] = [];
  private readonly listener = (e: AuditEvent): void => void this.events.push(e);
  constructor(private readonly auth: Ccgate) {
    auth.events.on('*', this.listener);
  }
  ofType<T extends AuditEvent['type']>(type: T): Extract<AuditEvent, { type: T }>[] {
    return this.events.filter((e) => e.type === type) as Extract<AuditEvent, { type: T }>[];
  }
  clear(): void {
    this.events.length = 0;
  }
  stop(): void {
    this.auth.events.off('*', this.listener);
  }
}

// ---- forging tokens ----

export { claimsFor, nowSeconds } from '../support';

export interface RealKey {
  kid: string;
  privateKeyPem: string;
  publicKeyPem: string;
  publicJwk: object;
}

/** The registry's current signing key (issue one token first so it exists). */
export async function realKey(server: TestServer): Promise<RealKey> {
  const keys = await server.auth.registry.listKeys();
  const key = keys.find((k) => k.status === 'active') ?? keys[0];
  if (!key) throw new Error('no signing key yet');
  const publicKeyPem = createPublicKey({ key: { ...key.publicJwk } as any, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  return { kid: key.kid, privateKeyPem: key.privateKeyPem, publicKeyPem, publicJwk: key.publicJwk };
}

/** A token signed by the real key with jsonwebtoken: only what the caller changes is wrong. */
export function forge(key: { kid: string; privateKeyPem: string }, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  return jwt.sign(payload, key.privateKeyPem, { algorithm: 'RS256', header: { alg: 'RS256', typ: 'at+jwt', kid: key.kid, ...header } as jwt.JwtHeader });
}

const b64json = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** RS256 over any header and payload (jsonwebtoken refuses some shapes an attacker is free to send). */
export function forgeRaw(privateKeyPem: string, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${createSign('sha256').update(input).sign(privateKeyPem).toString('base64url')}`;
}

/** HS256 keyed with arbitrary bytes (algorithm confusion: the public key as HMAC secret). */
export function hs256(secret: string | Buffer, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** alg none, empty signature. */
export function unsecured(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64json(header)}.${b64json(payload)}.`;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
