/**
 * Bench server: a ccgate issuer and local guard in one Express app, on a registry file the
 * orchestrator seeded. argv[2] is a JSON config; prints {"port":N} once listening on 127.0.0.1.
 *
 *   GET  /bare          the small JSON route, no guard
 *   GET  /guarded       the same route behind auth.requireScope('reports:read')
 *   POST /oauth/token   ccgate's token endpoint (and /oauth/jwks for remote validators)
 *   GET  /__stats       process.memoryUsage() and process.cpuUsage() (memory scenario, CPU per request)
 */
import { benchApp, serve } from './serve';
import { ccgate, type SigningAlgorithm } from '../../lib';

interface Config {
  db: string;
  issuer: string;
  audience: string;
  scope: string;
  algorithm?: SigningAlgorithm;
  bcryptWorkers?: number;
  /** false: no failed-authentication throttle (default: ccgate's default throttle). */
  throttle?: boolean;
}

const config = JSON.parse(process.argv[2]) as Config;
const auth = ccgate({
  db: config.db,
  issuer: config.issuer,
  audience: config.audience,
  algorithm: config.algorithm,
  bcryptWorkers: config.bcryptWorkers,
  ...(config.throttle === false ? { throttle: false as const } : {}),
  onServerError: (err) => console.error('server fault', err),
});

const app = benchApp();
app.get('/guarded', auth.requireScope(config.scope), (_req, res) => {
  res.json({ ok: true });
});
app.use('/oauth', auth.tokenRouter());
app.use(auth.metadataRouter());

serve(app, () => auth.close());
