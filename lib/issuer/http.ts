import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import {
  invalidRequest,
  KeyProtectionError,
  OAuthError,
  RegistryFileChangedError,
  RegistryUnavailableError,
  respondWithError,
  serverError,
  temporarilyUnavailable,
  TokenEndpointError,
} from '../errors';
import { requestIdFrom } from '../events';
import { formParams } from './form';

/** RFC 6749 §5.1: token responses must not be cached; we send it on every endpoint response, errors too. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  next();
};

/** The Content-Type nearly every client sends: the form type alone, or with charset=utf-8. */
const PLAIN_FORM = /^application\/x-www-form-urlencoded(?:[ \t]*;[ \t]*charset=utf-8)?$/i;

/**
 * Accepts only application/x-www-form-urlencoded (RFC 6749 §3.2), at most `limitBytes`, and leaves
 * the strictly parsed parameters in res.locals.form.
 *
 * The body nearly every client sends (that type, UTF-8, a Content-Length, no Content-Encoding, not
 * read yet) is read here directly; everything else (compressed, chunked, other charsets, a body an
 * app-wide parser already read) goes through express.text, which costs several times more per
 * request than the token endpoint's own parsing.
 */
export function formBody(limitBytes: number): RequestHandler {
  const readText = express.text({ type: 'application/x-www-form-urlencoded', limit: limitBytes, defaultCharset: 'utf-8' });
  return (req, res, next) => {
    const plain = isPlainFormBody(req);
    // Refused without reading the body: close the connection rather than let Node drain the body.
    if (!plain && !req.is('application/x-www-form-urlencoded')) {
      if (hasUnreadBody(req)) res.set('Connection', 'close');
      return next(invalidRequest('The request body must be application/x-www-form-urlencoded.'));
    }
    // body-parser reads (and discards) a declared-too-large body to its end before answering 413:
    // a client announcing gigabytes would be read for as long as it keeps sending. Refuse it at once.
    if (declaredLength(req) > limitBytes) {
      res.set('Connection', 'close');
      return next(new TokenEndpointError(413, 'invalid_request', 'The request body is too large.'));
    }
    const parsed = (body: unknown): void => {
      try {
        res.locals.form = formParams(body);
        next();
      } catch (parseError) {
        next(parseError);
      }
    };
    if (plain) {
      // The text is not left in req.body as body-parser leaves it: nothing after this step reads it,
      // and on Express 5 each member added to a request costs a copy of its hidden class.
      readPlainBody(req, (err, text) => (err ? next(err) : parsed(text)));
      return;
    }
    readText(req, res, (err?: unknown) => {
      if (err) return next(err);
      // Already read by an app-wide parser mounted before ours (body-parser then skips): use that.
      parsed(req.body);
    });
  };
}

/**
 * A body readText would read as it is, with nothing to decompress or transcode, not read by anyone
 * yet (nor finished, body-parser's own test), its length known (and checked against the limit by
 * the caller).
 */
function isPlainFormBody(req: Request): boolean {
  const { headers } = req;
  const type = headers['content-type'];
  return (
    type !== undefined &&
    PLAIN_FORM.test(type) &&
    headers['content-encoding'] === undefined &&
    headers['transfer-encoding'] === undefined &&
    headers['content-length'] !== undefined &&
    req.body === undefined &&
    req.readable &&
    !req.readableDidRead &&
    req.socket.readable
  );
}

/** UTF-8 as iconv-lite (body-parser) decodes it: a leading byte order mark dropped, bad bytes as U+FFFD. */
function decodeUtf8(body: Buffer): string {
  const text = body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Reads a Content-Length-delimited body to its end. Node's parser ends it after exactly that many
 * bytes or, when the client goes away first, aborts the request (an error, or a close without end):
 * answered invalid_request, as body-parser answers an aborted body.
 */
function readPlainBody(req: Request, done: (err: Error | null, text?: string) => void): void {
  const expected = Number(req.headers['content-length']);
  const chunks: Buffer[] = [];
  let received = 0;
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    chunks.push(chunk);
  };
  const settle = (err: Error | null, text?: string): void => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onFailure);
    req.off('close', onFailure);
    done(err, text);
  };
  const onEnd = (): void => {
    if (received !== expected) return settle(invalidRequest('The request body could not be read.'));
    settle(null, decodeUtf8(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received)));
  };
  const onFailure = (): void => settle(invalidRequest('The request body could not be read.'));
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onFailure);
  req.on('close', onFailure);
}

function hasUnreadBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

/** Content-Length of an identity-encoded body (a compressed one is limited after inflating), else 0. */
function declaredLength(req: Request): number {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  const length = Number(req.headers['content-length']);
  return encoding === 'identity' && Number.isFinite(length) ? length : 0;
}

/** Gives each request an id for audit events and echoes it as X-Request-Id. */
export const assignRequestId: RequestHandler = (req, res, next) => {
  const id = requestIdFrom(req.headers['x-request-id']);
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
};

/**
 * RFC 6749 §3.2 / §10.9 and RFC 9700: credentials and tokens only over TLS. req.secure honours
 * Express's `trust proxy` setting, so X-Forwarded-Proto from a trusted proxy counts.
 */
export const requireHttps: RequestHandler = (req, _res, next) => {
  next(req.secure ? undefined : invalidRequest('This endpoint requires HTTPS.'));
};

export function methodNotAllowed(allowed: string): RequestHandler {
  return (_req, res) => {
    res.set('Allow', allowed);
    respondWithError(res, new TokenEndpointError(405, 'invalid_request', `Use ${allowed}.`));
  };
}

interface BodyParserError {
  type?: unknown;
  status?: unknown;
}

/**
 * body-parser's errors as OAuth errors: an over-long body is 413, anything else unreadable 400.
 * Most carry a `type`; a corrupt compressed body (zlib error) carries only an http-errors 4xx status.
 */
function fromBodyParser(err: BodyParserError): OAuthError | null {
  const clientStatus = typeof err.status === 'number' && err.status >= 400 && err.status < 500;
  if (typeof err.type !== 'string' && !clientStatus) return null;
  if (err.type === 'entity.too.large' || err.status === 413) {
    return new TokenEndpointError(413, 'invalid_request', 'The request body is too large.');
  }
  return invalidRequest('The request body could not be read.');
}

export interface ErrorHandlerOptions {
  /** Called with faults that are not the caller's (answered 500 server_error); default: none. */
  onServerError?: (err: unknown) => void;
}

/** Answers every error as RFC 6749 §5.2 JSON: never HTML, never a stack trace. */
export function oauthErrorHandler(options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof OAuthError) return respondWithError(res, err);
    // Faults an operator must fix (a wrong key secret, registry files replaced under the server): 503 to the caller, reported loudly.
    if (err instanceof KeyProtectionError) {
      options.onServerError?.(err);
      return respondWithError(res, temporarilyUnavailable('The issuer cannot use its signing key right now; retry later.', 30));
    }
    if (err instanceof RegistryFileChangedError) options.onServerError?.(err);
    if (err instanceof RegistryUnavailableError) {
      return respondWithError(res, temporarilyUnavailable('The registry is unavailable; retry later.', err.retryAfterSeconds));
    }
    const mapped = typeof err === 'object' && err !== null ? fromBodyParser(err) : null;
    if (mapped) {
      // An over-long body may still be streaming in: close the connection instead of draining it.
      if (mapped.status === 413) res.set('Connection', 'close');
      return respondWithError(res, mapped);
    }
    options.onServerError?.(err);
    respondWithError(res, serverError());
  };
}
