import type { RequestHandler } from 'express';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { temporarilyUnavailable } from '../errors';
import { clientOf } from './request-state';
import { authAttempt } from './throttle';

const isLimiterAnswer = (value: unknown): value is RateLimiterRes => typeof value === 'object' && value !== null && 'msBeforeNext' in value;

/**
 * After client authentication: at most the limiter's points per window for each client, so one
 * client cannot write revocation rows, or make introspection calls, without bound. Over it: 429 with
 * Retry-After (RFC 6585 §4), `temporarily_unavailable` in the JSON body.
 */
export function clientRateLimit(limiter: RateLimiterAbstract, what: string): RequestHandler {
  return (_req, res, next) => {
    // The same bounded key as the failure throttle: a hash of the client id.
    const key = authAttempt(clientOf(res).clientId, '').client ?? '';
    limiter.consume(key).then(
      () => next(),
      (err: unknown) => {
        if (!isLimiterAnswer(err)) return next(err);
        const retryAfter = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
        next(temporarilyUnavailable(`Too many ${what} requests from this client; retry later.`, retryAfter, 429));
      },
    );
  };
}
