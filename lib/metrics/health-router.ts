import { Router, type Response } from 'express';
import { DEFAULTS } from '../defaults';
import { TimedOut, within } from './timeout';

/** Why /readyz answered 503. */
export type NotReadyReason = 'registry_unavailable' | 'registry_timeout' | 'no_signing_key';

/** What readiness asks of the registry (the Registry has both). */
export interface HealthSources {
  /** Resolves when the database answers now. */
  ping(): Promise<void>;
  listKeys(): Promise<Array<{ alg: string; status: string }>>;
}

export interface HealthOptions {
  /** Milliseconds /readyz waits for the registry before answering 503 (default 800: below Kubernetes' 1 s probe timeout). */
  timeoutMs?: number;
}

function answer(res: Response, status: number, body: object): void {
  res.status(status).set('Cache-Control', 'no-store').json(body);
}

/** What keeps this instance from serving: null when it is ready. */
async function notReady(registry: HealthSources, algorithm: string, timeoutMs: number): Promise<NotReadyReason | null> {
  try {
    // Both asked at once, so a probe costs one round trip; a hung database answers 503 in time, not never.
    const [, keys] = await within(Promise.all([registry.ping(), registry.listKeys()]), timeoutMs);
    return keys.some((k) => k.alg === algorithm && k.status === 'active') ? null : 'no_signing_key';
  } catch (err) {
    return err instanceof TimedOut ? 'registry_timeout' : 'registry_unavailable';
  }
}

/**
 * GET /healthz, liveness: 200 while the process serves requests. It asks nothing, so a database
 * outage never gets the process restarted. GET /readyz, readiness: 200 only when the registry
 * answers and a key signs for `algorithm`, else 503 with the reason, so no traffic is sent here.
 */
export function createHealthRouter(registry: HealthSources, algorithm: string, options: HealthOptions = {}): Router {
  const timeoutMs = options.timeoutMs ?? DEFAULTS.readinessTimeoutMs;
  const router = Router();
  router.get('/healthz', (_req, res) => answer(res, 200, { status: 'ok' }));
  router.get('/readyz', (_req, res) => {
    void notReady(registry, algorithm, timeoutMs).then((reason) =>
      reason === null ? answer(res, 200, { status: 'ready' }) : answer(res, 503, { status: 'not_ready', reason }),
    );
  });
  return router;
}
