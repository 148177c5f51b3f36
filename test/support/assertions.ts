/**
 * private_key_jwt (RFC 7523) from the client's side: client key pairs and their JWK Sets, client
 * assertions signed by hand with node:crypto (RS256, PS256, ES256; the HMAC and unsecured forgeries
 * are jwt.ts's), requests carrying them, a client's JWKS server on loopback that counts its requests,
 * and a second ccgate on an issuer's registry file (same issuer identifier, its own port).
 */
import { constants, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { ccgate, type Ccgate, type CcgateOptions } from '../../lib';
import { API_AUDIENCE } from './constants';
import { b64json } from './jwt';
import { httpRequest, listen, type HttpRequestOptions, type Listening, type Reply } from './http';
import type { TestIssuer } from './servers';
import { nowSeconds } from './time';

/** RFC 7523 §2.2: the client_assertion_type of a JWT client assertion. */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** The algorithms ccgate accepts for client assertions (RFC 8414 *_auth_signing_alg_values_supported). */
export const ASSERTION_ALGS = ['RS256', 'PS256', 'ES256'] as const;
export type AssertionAlg = (typeof ASSERTION_ALGS)[number];

export const randomKid = (): string => `k-${randomBytes(6).toString('hex')}`;

/** A client's key pair: the private half signs its assertions, the public JWK is what it registers. */
export interface ClientKey {
  kid: string;
  alg: AssertionAlg;
  privateKey: KeyObject;
  /** Public members only, with kid, alg and use "sig". */
  publicJwk: Record<string, string>;
  /** The whole key as a JWK (private members included), with kid and alg: for the interop scripts. */
  privateJwk: Record<string, string>;
}

/** A fresh key pair: RSA 2048 for RS256 and PS256, P-256 for ES256. */
export function clientKey(alg: AssertionAlg = 'RS256', kid = randomKid()): ClientKey {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = { ...(pair.publicKey.export({ format: 'jwk' }) as Record<string, string>), kid, alg, use: 'sig' };
  const privateJwk = { ...(pair.privateKey.export({ format: 'jwk' }) as Record<string, string>), kid, alg };
  return { kid, alg, privateKey: pair.privateKey, publicJwk, privateJwk };
}

/** The JWK Set document (RFC 7517 §5) of some keys' public halves. */
export const jwksOf = (...keys: ClientKey[]): { keys: Record<string, string>[] } => ({ keys: keys.map((k) => k.publicJwk) });

/**
 * RFC 7523 §3 claims of a valid assertion by `clientId` for `audience`: iss = sub = the client, a
 * 60-second lifetime from now, a fresh jti. An override of `undefined` leaves the claim out.
 */
export function assertionClaims(clientId: string, audience: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds();
  return { iss: clientId, sub: clientId, aud: audience, iat: now, exp: now + 60, jti: randomBytes(16).toString('base64url'), ...overrides };
}

/**
 * A compact JWS of `claims` signed with the key's private half by its algorithm (RFC 7518 §3.3 RS256,
 * §3.5 PS256 with a 32-byte salt, §3.4 ES256 as raw r||s). The header is {alg, kid} plus `header`,
 * written as given: it may claim another alg or kid than the key's (`undefined` drops a member).
 */
export function signAssertion(
  key: Pick<ClientKey, 'alg' | 'kid' | 'privateKey'>,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const input = `${b64json({ alg: key.alg, kid: key.kid, ...header })}.${b64json(claims)}`;
  const data = Buffer.from(input);
  const signature =
    key.alg === 'ES256'
      ? sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
      : key.alg === 'PS256'
        ? sign('sha256', data, { key: key.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
        : sign('sha256', data, key.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

/** A private_key_jwt client as the tests drive it: its id, its key, the audience its assertions name. */
export class AssertingClient {
  constructor(
    readonly clientId: string,
    readonly key: ClientKey,
    readonly audience: string,
  ) {}

  /** A fresh, valid assertion (assertionClaims), with claims and header members overridden. */
  assertion(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): string {
    return signAssertion(this.key, assertionClaims(this.clientId, this.audience, claims), header);
  }
}

/** The form members of private_key_jwt client authentication (RFC 7521 §4.2), plus `extra`. */
export function assertionParams(assertion: string, extra: Record<string, string> = {}): Record<string, string> {
  return { client_assertion_type: JWT_BEARER, client_assertion: assertion, ...extra };
}

/** POSTs a form authenticated by an assertion (RFC 7523 §2.2) to any endpoint; `headers` are added. */
export function postWithAssertion(
  url: string,
  assertion: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
  options: HttpRequestOptions = {},
): Promise<Reply> {
  const body = new URLSearchParams(assertionParams(assertion, params)).toString();
  return httpRequest(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body }, options);
}

/** A client_credentials request to `${endpoints}/token` authenticated by `assertion`. */
export function tokenWithAssertion(
  issuer: { endpoints: string },
  assertion: string,
  extra: Record<string, string> = {},
  options?: HttpRequestOptions,
): Promise<Reply> {
  return postWithAssertion(`${issuer.endpoints}/token`, assertion, { grant_type: 'client_credentials', ...extra }, {}, options);
}

/** The access token of a client_credentials request with `assertion`; fails the test on refusal. */
export async function tokenByAssertion(issuer: { endpoints: string }, assertion: string, extra: Record<string, string> = {}): Promise<string> {
  const res = await tokenWithAssertion(issuer, assertion, extra);
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
  return res.json().access_token as string;
}

// ---- a client's JWKS endpoint ----

export interface JwksServer extends Listening {
  /** The set's URL: `${origin}/jwks`. */
  url: string;
  /** Requests received so far (any path). */
  readonly requests: number;
  /** Serve this document from now on (200, application/json). */
  serve(jwks: unknown): void;
  /** Answer every request from now on with this status and body text. */
  answer(status: number, body: string, contentType?: string): void;
  /** Accept requests and never answer them (until stop()). */
  hang(): void;
}

/** A client's key set on 127.0.0.1 (plain http: the issuer needs allowLoopbackHttpJwksUri). */
export async function startJwksServer(jwks: unknown): Promise<JwksServer> {
  let reply: ((res: ServerResponse) => void) | null = null;
  let requests = 0;
  const serve = (doc: unknown): void => {
    const body = JSON.stringify(doc);
    reply = (res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
  };
  serve(jwks);
  const listening = await listen((_req: IncomingMessage, res: ServerResponse) => {
    requests++;
    reply?.(res);
  });
  return {
    ...listening,
    url: `${listening.origin}/jwks`,
    get requests() {
      return requests;
    },
    serve,
    answer(status, body, contentType = 'text/plain') {
      reply = (res) => res.writeHead(status, { 'Content-Type': contentType }).end(body);
    },
    hang() {
      reply = null;
    },
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port just given up). */
export async function closedPortUrl(): Promise<string> {
  const gone = await listen();
  await gone.stop();
  return `${gone.origin}/jwks`;
}

// ---- another instance on the same registry ----

export interface Peer extends Listening {
  auth: Ccgate;
  /** Absolute URL of its token router (same path as the issuer's). */
  endpoints: string;
  serverErrors: unknown[];
  close(): Promise<void>;
}

/**
 * A second ccgate on `issuer`'s SQLite file with the same issuer identifier (its assertions' and
 * tokens' iss and aud are the issuer's), on a port of its own: token router at the issuer's mount
 * path, /local/reports guarded by its own requireScope('reports:read'). `options` override any of it
 * (e.g. `audience`).
 */
export async function startPeer(issuer: TestIssuer, options: Partial<Omit<CcgateOptions, 'db' | 'issuer'>> = {}): Promise<Peer> {
  const serverErrors: unknown[] = [];
  const auth = ccgate({
    db: issuer.dbPath,
    issuer: issuer.issuer,
    audience: API_AUDIENCE,
    bcryptCost: 4,
    bcryptWorkers: 1,
    allowUnencryptedKeys: true,
    throttle: false,
    onServerError: (e) => serverErrors.push(e),
    ...options,
  });
  const mount = new URL(issuer.endpoints).pathname;
  const app = express();
  app.use(mount, auth.tokenRouter());
  app.get('/local/reports', auth.requireScope('reports:read'), (req, res) => res.json({ client: req.auth?.clientId }));
  const listening = await listen(app);
  return {
    ...listening,
    auth,
    endpoints: `${listening.origin}${mount}`,
    serverErrors,
    async close() {
      await listening.stop();
      await auth.close();
    },
  };
}
