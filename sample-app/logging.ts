/**
 * The sample app's log: pino, one JSON object per line. Requests are logged by method, path (never
 * the query string, where a careless client may put a token), status and duration; audit events and
 * server faults go to the same log. Credentials are redacted wherever they would appear.
 */
import type { RequestHandler } from 'express';
import pino, { type Logger } from 'pino';

/**
 * What is censored, at the top level and one level down: the Authorization and Cookie headers of a
 * logged request, client secrets, tokens (access_token, the token parameter of introspection and
 * revocation, req.auth.token) and passwords.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  '*.authorization',
  'client_secret',
  '*.client_secret',
  'clientSecret',
  '*.clientSecret',
  'access_token',
  '*.access_token',
  'token',
  '*.token',
  'password',
  '*.password',
];

export const CENSORED = '[redacted]';

/** A logger writing each JSON line to `write` (without its newline); level names, not numbers, and ISO times. */
export function createLogger(write: (line: string) => void): Logger {
  return pino(
    {
      redact: { paths: REDACTED_PATHS, censor: CENSORED },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    { write: (line: string) => write(line.endsWith('\n') ? line.slice(0, -1) : line) },
  );
}

/** One line per answered request: method, path, status, milliseconds, and the X-Request-Id that audit events carry. */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    // Read now: routers mounted under a path rewrite req.url while they handle the request.
    const { method, path } = req;
    res.once('finish', () => {
      const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
      const requestId = res.getHeader('x-request-id');
      const line = { method, path, status: res.statusCode, durationMs, ...(typeof requestId === 'string' ? { requestId } : {}) };
      if (res.statusCode >= 500) logger.warn(line, 'request');
      else logger.info(line, 'request');
    });
    next();
  };
}
