/**
 * Bench server: a ccgate issuer and local guard in one Express app, on a registry the orchestrator
 * seeded: a SQLite file or a postgres:// URL, given to ccgate({ db }) as it is. argv[2] is a JSON
 * config (CcgateServerConfig); once the registry is open (connected and migrated) and the signing key
 * loaded, prints {"port":N} listening on 127.0.0.1. On SIGTERM/SIGINT it closes its connections and
 * auth.close() (bcrypt workers, the registry: for PostgreSQL its pool and listening connection), then exits.
 *
 *   GET  /bare          the small JSON route, no guard
 *   GET  /guarded       the same route behind auth.requireScope('reports:read')
 *   POST /oauth/token   ccgate's token endpoint (and /oauth/jwks for remote validators)
 *   GET  /__stats       process.memoryUsage() and process.cpuUsage() (memory scenario, CPU per request)
 */
import { holdOpen } from './hold-open';
import { benchApp, serve } from './serve';
import { ccgate, redactedDb } from '../../lib';
import type { CcgateServerConfig } from '../lib/ccgate';

const config = JSON.parse(process.argv[2]) as CcgateServerConfig;
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

// Fail at startup, not in the first measured request, when the registry cannot be opened.
auth.ready().then(
  () => serve(app, () => auth.close()),
  (err: unknown) => {
    console.error(`cannot open the registry ${redactedDb(config.db)}:`, err);
    void holdOpen(auth.close()).finally(() => process.exit(1));
  },
);
