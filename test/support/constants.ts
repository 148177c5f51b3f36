/** Names and paths every part of the test kit agrees on. */
import { join } from 'node:path';

/** The repository root. */
export const ROOT = join(__dirname, '..', '..');
/** The built package (child processes run it: `npm run build` first). */
export const DIST = join(ROOT, 'dist', 'lib');
/** The built CLI, dist/lib/cli/main.js. */
export const CLI = join(DIST, 'cli', 'main.js');
/** Scripts run as child processes by the tests (test/support/fixtures). */
export const FIXTURES = join(__dirname, 'fixtures');
/** The fixture server (fixtures/server.js, over dist/). */
export const SERVER_SCRIPT = join(FIXTURES, 'server.js');
/** Preloaded (--require) into a child process, fixes its Date.now() at $TEST_CLOCK_UNIX (fixtures/fixed-clock.js). */
export const FIXED_CLOCK = join(FIXTURES, 'fixed-clock.js');

/** The issuer identifier of in-process test servers (createTestServer, the fixture server). */
export const ISSUER = 'https://issuer.test';
/** The audience every standards test issuer puts in its tokens and every test API expects. */
export const API_AUDIENCE = 'https://api.ccgate.test';
/** RFC 8414 §3: the metadata path (before any issuer path). */
export const METADATA_PATH = '/.well-known/oauth-authorization-server';

/**
 * What a guard answers a request without a token (RFC 6750 §3.1, RFC 9449 §7.1): a challenge per
 * scheme it accepts, Bearer and DPoP (with the proof algorithms), none with an error.
 */
export const NO_TOKEN_CHALLENGE = 'Bearer realm="ccgate", DPoP realm="ccgate", algs="ES256 RS256 PS256"';
