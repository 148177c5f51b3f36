import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { RemoteFetchError, type RemoteFailure } from '../errors';

export interface BoundedGetOptions {
  /** Milliseconds to have a connection (TCP, and for https the TLS handshake). */
  connectTimeoutMs: number;
  /** Milliseconds from the start to the last byte of the body. */
  timeoutMs: number;
  /** Largest body read, in bytes. */
  maxBytes: number;
}

/**
 * GETs a URL the caller has checked (http or https) and reads its 200 body as text, within two
 * bounds: one on connecting, one on the whole exchange; at most `maxBytes`, counted while reading.
 * A 3xx is a failure (redirects are never followed), and so is any status but 200. Each request has
 * a connection of its own (no pooled socket), so the connect bound always applies.
 */
export function boundedGet(url: URL, options: BoundedGetOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const request = (secure ? https : http).request(url, { method: 'GET', agent: false, headers: { accept: 'application/jwk-set+json, application/json' } });
    let settled = false;
    const finish = (error: RemoteFetchError | null, body = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
      if (error) {
        request.destroy();
        reject(error);
      } else {
        resolve(body);
      }
    };
    const failure = (reason: RemoteFailure, what: string, cause?: unknown): RemoteFetchError => new RemoteFetchError(reason, `${url.href}: ${what}`, { cause });
    const connectTimer = setTimeout(() => finish(failure('timeout', `no connection within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
    const totalTimer = setTimeout(() => finish(failure('timeout', `no complete answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    request.on('socket', (socket: Socket) => {
      // https: connected once the TLS handshake is done; http: once TCP is.
      if (!secure && !socket.connecting) clearTimeout(connectTimer);
      else socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    request.on('error', (err) => finish(failure('unreachable', err.message, err)));
    request.on('response', (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) return finish(failure('redirect', `HTTP ${status}: redirects are not followed`));
      if (status !== 200) return finish(failure('bad_answer', `HTTP ${status}`));
      if (Number(response.headers['content-length'] ?? 0) > options.maxBytes) return finish(failure('too_large', `larger than ${options.maxBytes} bytes`));
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) finish(failure('too_large', `larger than ${options.maxBytes} bytes`));
        else chunks.push(chunk);
      });
      response.on('end', () => finish(null, Buffer.concat(chunks).toString('utf8')));
      response.on('error', (err) => finish(failure('unreachable', err.message, err)));
      // Closed before the end: the connection dropped mid-body.
      response.on('close', () => finish(failure('unreachable', 'the connection closed before the answer was complete')));
    });
    request.end();
  });
}
