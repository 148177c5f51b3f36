/**
 * DPoP proofs (RFC 9449) for the bench's load, made as a client makes them: one ES256 key pair for the
 * scenario (node:crypto), a proof per request (typ dpop+jwt, the public key as the header's jwk; claims
 * jti, htm, htu, iat now, ath). A proof's jti is single-use at the guard, so every request needs a new
 * one, and signing one costs ~50 µs: done in the load generator during a run, it would slow the load
 * the server gets. So proofs are signed before each run, untimed (node:crypto's async sign, spread
 * over libuv's thread pool while the server idles), and handed out one per request by the harness's
 * per-request hook (LoadSpec.setup, autocannon's setupRequest). The thumbprint and ath are computed
 * here, independently of lib/: a mismatch with the guard's shows up as 401s, which fail the run.
 */
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { ServerHandle } from './harness';
import { basicAuth, FORM } from './harness';
import type { Seeded } from './seed';

const signAsync = promisify(sign);
const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** RFC 9449 §4.2: ath, base64url(SHA-256(access token)). */
export const tokenHash = (accessToken: string): string => createHash('sha256').update(accessToken, 'ascii').digest('base64url');

/** What one proof is for. `ath` absent: a proof for the token endpoint. */
export interface ProofRequest {
  htm: 'GET' | 'POST';
  /** The URL exactly as the server sees it: scheme, host (with port) and path, e.g. http://127.0.0.1:1234/guarded. */
  htu: string;
  ath?: string;
}

/** Proofs are signed this many at a time (each batch's signatures run in parallel on the thread pool). */
const BATCH = 256;

/** One ES256 key pair, and proofs signed with it. */
export class DpopProver {
  /** RFC 7638 SHA-256 thumbprint of the public key: the cnf.jkt of a token bound to it. */
  readonly jkt: string;
  private readonly privateKey: KeyObject;
  /** The proofs' encoded JOSE header: the same for every proof. */
  private readonly header: string;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    if (!jwk.crv || !jwk.x || !jwk.y) throw new Error('cannot export the DPoP key as a JWK');
    this.privateKey = privateKey;
    // RFC 7638 §3.2: the required members of an EC key, in lexicographic order, no whitespace.
    this.jkt = createHash('sha256')
      .update(JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y }))
      .digest('base64url');
    this.header = b64url(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y } }));
  }

  private input(request: ProofRequest): string {
    const claims = { jti: randomUUID(), htm: request.htm, htu: request.htu, iat: Math.floor(Date.now() / 1000), ...(request.ath ? { ath: request.ath } : {}) };
    return `${this.header}.${b64url(JSON.stringify(claims))}`;
  }

  /** One proof, signed synchronously (setup, and the rare proof a run needs beyond those prepared). */
  proofNow(request: ProofRequest): string {
    const input = this.input(request);
    return `${input}.${sign('sha256', Buffer.from(input), { key: this.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  }

  /** `count` proofs, the i-th for request(i), signed on the thread pool. */
  async proofs(count: number, request: (i: number) => ProofRequest): Promise<string[]> {
    const out = new Array<string>(count);
    for (let start = 0; start < count; start += BATCH) {
      const jobs: Promise<void>[] = [];
      for (let i = start; i < Math.min(start + BATCH, count); i++) {
        const input = this.input(request(i));
        jobs.push(
          signAsync('sha256', Buffer.from(input), { key: this.privateKey, dsaEncoding: 'ieee-p1363' }).then(
            (sig) => void (out[i] = `${input}.${sig.toString('base64url')}`),
          ),
        );
      }
      await Promise.all(jobs);
    }
    return out;
  }
}

/** Before the first run of a target nothing is known of its rate: a guess, corrected from the next run on. */
const FIRST_GUESS_RPS = 5_000;
/** Proofs prepared per run: the expected count times this, plus SLACK (a run may go faster than the last). */
const MARGIN = 1.5;
const SLACK = 500;

/**
 * The proofs of one token repeated (same ath), for measureInterleaved (Target.feed): before each run
 * `prepare` signs enough new proofs for the run at the target's best rate so far (with a margin),
 * dropping the last run's leftovers (their iat is getting old: the guard accepts 60 s); `next()` hands
 * them out, one per request. Should a run outrun them, `next()` signs on demand (slowing the load
 * generator) and `ranDry()` says so: measureInterleaved then measures that run again.
 */
export class ProofFeed {
  private prepared: string[] = [];
  private used = 0;
  private onDemand = 0;
  private readonly request: ProofRequest;

  constructor(
    private readonly prover: DpopProver,
    request: { htm: 'GET' | 'POST'; htu: string; token: string },
  ) {
    this.request = { htm: request.htm, htu: request.htu, ath: tokenHash(request.token) };
  }

  async prepare(seconds: number, bestRps: number | undefined): Promise<void> {
    const count = Math.ceil((bestRps ?? FIRST_GUESS_RPS) * seconds * MARGIN) + SLACK;
    this.prepared = await this.prover.proofs(count, () => this.request);
    this.used = 0;
    this.onDemand = 0;
  }

  next(): string {
    if (this.used < this.prepared.length) return this.prepared[this.used++];
    this.onDemand++;
    return this.prover.proofNow(this.request);
  }

  /** Proofs of the current run signed on demand (0: the prepared ones sufficed). */
  get shortfall(): number {
    return this.onDemand;
  }

  ranDry(): boolean {
    return this.onDemand > 0;
  }
}

/**
 * A DPoP-bound token from the server's token endpoint (RFC 9449 §5: client_secret_basic and a proof for
 * POST to the token endpoint the metadata names), or null when the endpoint answers with a token that is
 * not bound to the prover's key (token_type other than DPoP, or another cnf.jkt).
 */
export async function fetchBoundToken(server: ServerHandle, seeded: Seeded, prover: DpopProver, body: string): Promise<string | null> {
  const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { token_endpoint?: string };
  if (!metadata.token_endpoint) throw new Error(`${server.name}: no token_endpoint in its metadata`);
  const res = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuth(seeded.clientIds[0], seeded.secret),
      'content-type': FORM,
      dpop: prover.proofNow({ htm: 'POST', htu: metadata.token_endpoint }),
    },
    body,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`DPoP token request to ${server.name} failed: ${res.status} ${text}`);
  const answer = JSON.parse(text) as { access_token?: string; token_type?: string };
  if (!answer.access_token) throw new Error(`no access_token from ${server.name}: ${text}`);
  if (answer.token_type?.toLowerCase() !== 'dpop') return null;
  const claims = JSON.parse(Buffer.from(answer.access_token.split('.')[1], 'base64url').toString('utf8')) as { cnf?: { jkt?: unknown } };
  return claims.cnf?.jkt === prover.jkt ? answer.access_token : null;
}

/** GET `url` with `Authorization: DPoP <token>` and a new proof; throws unless 200. */
export async function expectDpop200(url: string, token: string, prover: DpopProver): Promise<void> {
  const res = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: prover.proofNow({ htm: 'GET', htu: url, ath: tokenHash(token) }) } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url} with a DPoP proof: ${res.status} ${text} (WWW-Authenticate: ${res.headers.get('www-authenticate')})`);
}
