/**
 * HTTP plumbing: servers on 127.0.0.1 port 0, raw requests over a real socket (for what supertest
 * cannot send), and fetch-based requests to real URLs.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { FetchLike } from '../../lib';

export interface Listening {
  server: http.Server;
  /** http://127.0.0.1:<port> (no trailing slash). */
  origin: string;
  port: number;
  /** Stops listening and drops keep-alive connections, so clients see the server as gone (idempotent). */
  stop(): Promise<void>;
}

/** Listens on 127.0.0.1, port 0. */
export async function listen(handler?: http.RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | null = null;
  return {
    server,
    origin: `http://127.0.0.1:${port}`,
    port,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

/** Runs `fn` against a listening copy of `app`, then stops it. */
async function withListening<T>(app: http.RequestListener, fn: (listening: Listening) => Promise<T>): Promise<T> {
  const listening = await listen(app);
  try {
    return await fn(listening);
  } finally {
    await listening.stop();
  }
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A response read off a socket. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  body: any;
  /** The body parsed as JSON; throws when it is not JSON. */
  json(): any;
}

function rawResponse(status: number, headers: http.IncomingHttpHeaders, text: string): RawResponse {
  return { status, headers, text, body: parseJson(text), json: () => JSON.parse(text) };
}

export interface RawRequestOptions {
  method?: string;
  path: string;
  /** Header values given as arrays are sent as repeated header lines. */
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

/** One request to `url` with node:http's client: header values given as arrays go as repeated lines, the body as given. */
export function requestUrl(url: string, options: Omit<RawRequestOptions, 'path'> = {}, agent: http.Agent | false = false): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', agent });
    for (const [name, value] of Object.entries(options.headers ?? {})) req.setHeader(name, value);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(rawResponse(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8'))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * One request with node:http's client to a listening copy of `app`: full control of the header
 * values (e.g. two Authorization lines), body bytes sent as given.
 */
export function rawRequest(app: http.RequestListener, options: RawRequestOptions): Promise<RawResponse> {
  return withListening(app, ({ port }) => requestUrl(`http://127.0.0.1:${port}${options.path}`, options));
}

/**
 * One request written byte for byte on a socket to a listening copy of `app`: repeated header lines,
 * latin1 bytes in a header, anything. `head` is the request line and header lines (no final CRLF);
 * a Host line is added unless `head` has one, then Connection: close, and Content-Length for a body.
 */
export function rawSocketRequest(app: http.RequestListener, head: string[], body: Buffer | string = ''): Promise<RawResponse> {
  return withListening(
    app,
    ({ port }) =>
      new Promise<RawResponse>((resolve, reject) => {
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
          resolve(rawResponse(status, headers, chunked ? dechunk(rest.toString('utf8')) : rest.toString('utf8')));
        };
        socket.on('data', (c: Buffer) => {
          chunks.push(c);
          settle(false);
        });
        socket.on('error', (err) => (done ? undefined : reject(err)));
        socket.on('close', () => settle(true));
        const payload = Buffer.from(body);
        const lines = [...head];
        if (!head.some((line) => /^host:/i.test(line))) lines.push(`Host: 127.0.0.1:${port}`);
        lines.push('Connection: close');
        if (payload.length > 0) lines.push(`Content-Length: ${payload.length}`);
        socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]));
      }),
  );
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

/** What a SourceAddress sends: the body as given, headers as given (an array: repeated lines). */
export type SourceRequestOptions = Omit<RawRequestOptions, 'path'>;

/**
 * Requests to real URLs from one local source address. All of 127.0.0.0/8 is loopback on Linux, so a
 * server on 127.0.0.1 sees 127.0.0.2, 127.0.0.3, ... as distinct callers (req.ip), as it would see
 * distinct hosts. Connections are kept alive and reused (up to `maxSockets` at once); close() ends them.
 */
export class SourceAddress {
  private readonly agent: http.Agent;

  constructor(
    readonly address: string,
    maxSockets = 32,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, localAddress: address });
  }

  request(url: string, options: SourceRequestOptions = {}): Promise<RawResponse> {
    return requestUrl(url, options, this.agent);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The loopback address 127.0.0.<n> (n from 2 up: 127.0.0.1 is where the test servers listen). */
export const loopback = (n: number): string => `127.0.0.${n}`;

/** `count` SourceAddresses, 127.0.0.<first> and up, and one close() for all of them. */
export function sourceAddresses(first: number, count: number): { at: SourceAddress[]; close(): void } {
  const at = Array.from({ length: count }, (_, i) => new SourceAddress(loopback(first + i)));
  return { at, close: () => at.forEach((s) => s.close()) };
}

/** A response from the global fetch, read whole. */
export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  body: any;
  /** The body parsed as JSON; throws when it is not JSON. */
  json(): any;
}

export interface HttpRequestOptions {
  /**
   * A connection of its own (Connection: close) and a bounded wait: for servers that are killed
   * mid-test, where a kept-alive connection would hang or fail the next request.
   */
  fresh?: boolean;
  /** Gives up after this long (default: 10 s when fresh, else no limit of its own). */
  timeoutMs?: number;
}

/** One HTTP request with the global fetch (redirects not followed); the body is read whole. */
export async function httpRequest(url: string, init: RequestInit = {}, options: HttpRequestOptions = {}): Promise<Reply> {
  const { fresh = false, timeoutMs = fresh ? 10_000 : undefined } = options;
  const headers = new Headers(init.headers);
  if (fresh && !headers.has('connection')) headers.set('connection', 'close');
  const res = await fetch(url, {
    redirect: 'manual',
    ...init,
    headers,
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: parseJson(text), json: () => JSON.parse(text) };
}

/** A fetch that records every URL it is asked for. */
export function countingFetch(): { fetch: FetchLike; urls: string[]; count(match?: string): number } {
  const urls: string[] = [];
  return {
    urls,
    fetch: (input, init) => {
      urls.push(input);
      return fetch(input, init);
    },
    count: (match) => urls.filter((u) => match === undefined || u.includes(match)).length,
  };
}
