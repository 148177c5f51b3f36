import { Router } from 'express';
import type { Registry } from 'prom-client';

/** GET /metrics: the registry in Prometheus's text exposition format, with prom-client's content type. */
export function createMetricsRouter(registry: Registry): Router {
  const router = Router();
  router.get('/metrics', (_req, res, next) => {
    registry.metrics().then((text) => {
      res.set({ 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
      res.end(text);
    }, next);
  });
  return router;
}
