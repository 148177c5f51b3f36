import type { RequestHandler } from 'express';
import type { IssuerTelemetry } from './telemetry';

/** Times each request from here until its answer is sent, and reports it with the status. */
export function timeRequests(telemetry: IssuerTelemetry): RequestHandler {
  return (_req, res, next) => {
    const started = process.hrtime.bigint();
    // 'finish': the answer went out. A caller that hangs up first was never answered, and is not timed.
    res.once('finish', () => telemetry.tokenEndpointLatency(Number(process.hrtime.bigint() - started) / 1e9, res.statusCode));
    next();
  };
}
