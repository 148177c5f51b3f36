/**
 * OAuth 2.0 on the wire: client_secret_basic headers in their encodings, requests to the token,
 * introspection and revocation endpoints, WWW-Authenticate parsing, and assertions on RFC 6749 §5.2 /
 * RFC 6750 §3 error answers.
 */
import type { Express } from 'express';
import request from 'supertest';
import { httpRequest, type HttpRequestOptions, type RawResponse, type Reply, type SourceAddress } from './http';

// ---- Basic credentials (RFC 7617, RFC 6749 §2.3.1) ----

/** RFC 6749 Appendix B form-urlencoding (space as '+'), as a browser or curl --data-urlencode does. */
export function formEncode(value: string): string {
  return new URLSearchParams([['v', value]]).toString().slice(2);
}

/** Basic credentials with each part percent-encoded (encodeURIComponent: space as %20): what most tests send. */
export function basic(id: string, secret: string): string {
  return basicBytes(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`);
}

/** client_secret_basic with each part form-urlencoded per RFC 6749 §2.3.1 (space as '+'). */
export function basicForm(id: string, secret: string): string {
  return basicBytes(`${formEncode(id)}:${formEncode(secret)}`);
}

/** Basic credentials with no encoding of the parts at all (what most HTTP libraries send). */
export function basicRaw(id: string, secret: string): string {
  return basicBytes(`${id}:${secret}`);
}

/** Basic credentials from raw bytes (a string is taken as UTF-8; nothing else is applied). */
export function basicBytes(bytes: Uint8Array | string): string {
  return `Basic ${Buffer.from(bytes).toString('base64')}`;
}

// ---- requests to an in-process app (supertest) ----

/** POSTs a client_credentials request with client_secret_basic (`basic`). */
export function tokenRequest(app: Express, clientId: string, clientSecret: string, extra: Record<string, string> = {}) {
  return request(app)
    .post('/oauth/token')
    .set('Authorization', basic(clientId, clientSecret))
    .type('form')
    .send({ grant_type: 'client_credentials', ...extra });
}

/** A fresh access token for the client, failing the test if the endpoint refuses. */
export async function getToken(server: { app: Express }, clientId: string, clientSecret: string, scope?: string): Promise<string> {
  const res = await tokenRequest(server.app, clientId, clientSecret, scope === undefined ? {} : { scope });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token as string;
}

/** GET `path` of an in-process app with a bearer token (RFC 6750 §2.1). */
export function bearerGet(app: Express, token: string, path = '/api/reports') {
  return request(app).get(path).set('Authorization', `Bearer ${token}`);
}

// ---- requests to a listening issuer (fetch) ----

export interface ClientAuth {
  clientId: string;
  clientSecret: string;
  /** 'basic' (default: client_secret_basic, `basicForm`) or 'post' (client_secret_post). */
  method?: 'basic' | 'post';
}

/** The headers and body of a form authenticated as a client (or not at all, with null). */
function authenticatedForm(client: ClientAuth | null, params: Record<string, string>): { headers: Record<string, string>; body: string } {
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (client && (client.method ?? 'basic') === 'basic') headers.Authorization = basicForm(client.clientId, client.clientSecret);
  if (client && client.method === 'post') {
    body.set('client_id', client.clientId);
    body.set('client_secret', client.clientSecret);
  }
  return { headers, body: body.toString() };
}

/** POSTs a form to an issuer endpoint, authenticated as a client (or not at all, with null). */
export function postForm(url: string, client: ClientAuth | null, params: Record<string, string>, options: HttpRequestOptions = {}): Promise<Reply> {
  return httpRequest(url, { method: 'POST', ...authenticatedForm(client, params) }, options);
}

/**
 * postForm from a given source address (several callers on one machine). `headers` are added last:
 * e.g. an Authorization header of any encoding, with `client` null.
 */
export function postFormFrom(
  from: SourceAddress,
  url: string,
  client: ClientAuth | null,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const form = authenticatedForm(client, params);
  return from.request(url, { method: 'POST', headers: { ...form.headers, ...headers }, body: form.body });
}

/**
 * A client_credentials request to the issuer's token endpoint from `from`: as `client` (null: no
 * client authentication, or only what `extra` and `headers` carry, e.g. a bare client_id).
 */
export function tokenFrom(
  from: SourceAddress,
  issuer: IssuerEndpoints,
  client: ClientAuth | null,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return postFormFrom(from, `${issuer.endpoints}/token`, client, { grant_type: 'client_credentials', ...extra }, headers);
}

/** Where an issuer's endpoints are: `${endpoints}/token`, `/introspect`, `/revoke`, `/jwks`. */
export interface IssuerEndpoints {
  endpoints: string;
}

/** A token from the issuer's real token endpoint; fails the test on refusal. */
export async function issueToken(issuer: IssuerEndpoints, client: ClientAuth, scope?: string): Promise<string> {
  const res = await postForm(`${issuer.endpoints}/token`, client, { grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
  return res.json().access_token as string;
}

/** RFC 7662 introspection request. */
export function introspect(issuer: IssuerEndpoints, caller: ClientAuth, params: Record<string, string>, options?: HttpRequestOptions): Promise<Reply> {
  return postForm(`${issuer.endpoints}/introspect`, caller, params, options);
}

/** RFC 7009 revocation request. */
export function revoke(issuer: IssuerEndpoints, caller: ClientAuth, params: Record<string, string>, options?: HttpRequestOptions): Promise<Reply> {
  return postForm(`${issuer.endpoints}/revoke`, caller, params, options);
}

/** GET with a bearer token (RFC 6750 §2.1), or without any. */
export function callApi(url: string, token?: string, options?: HttpRequestOptions): Promise<Reply> {
  return httpRequest(url, token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } }, options);
}

// ---- answers ----

/** Parses `Bearer realm="x", error="y", ...` into its auth-params (quoted-string values unescaped). */
export function parseChallenge(header: string | undefined): { scheme: string; params: Record<string, string> } {
  if (header === undefined) throw new Error('no WWW-Authenticate header');
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z_]+)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
  re.lastIndex = space === -1 ? header.length : space + 1;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null) {
    params[m[1]] = m[2].replace(/\\(.)/g, '$1');
    if (re.lastIndex >= header.length) break;
  }
  return { scheme, params };
}

/** RFC 6749 §5.2 / RFC 6750 §3: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ). */
export const ERROR_DESCRIPTION_CHARS = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/;

/** RFC 6749 §5.2 error codes (the token endpoint may answer nothing else). */
export const RFC6749_ERRORS = ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope'];

/** What the assertions read: a supertest response, a RawResponse or a Reply with `body`. */
export interface ResponseLike {
  status: number;
  headers: Record<string, any>;
  body: any;
}

/** A fetch Reply as the assertions below read it: headers as a record of lower-case names. */
export function responseOf(reply: Reply): ResponseLike {
  return { status: reply.status, headers: Object.fromEntries(reply.headers.entries()), body: reply.body };
}

/**
 * Asserts an RFC 6749 §5.2 error response: JSON, the code, a description in the allowed characters,
 * and RFC 6749 §5.1's no-store headers.
 */
export function expectTokenError(res: ResponseLike, status: number, code: string): void {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error: code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
  expect(res.body.error_description).toMatch(ERROR_DESCRIPTION_CHARS);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers.pragma).toBe('no-cache');
}

/** invalid_client answered 401 with a Basic challenge (RFC 6749 §5.2), and no Retry-After: not the throttle's answer. */
export function expectInvalidClient(res: ResponseLike): void {
  expectTokenError(res, 401, 'invalid_client');
  expect(res.headers['www-authenticate']).toBe('Basic realm="ccgate"');
  expect(res.headers['retry-after']).toBeUndefined();
}

/** Whether an answer is the throttle's (invalid_client with Retry-After) rather than a plain refusal. */
export const isThrottled = (res: ResponseLike): boolean => res.status === 401 && res.headers['retry-after'] !== undefined;

/**
 * A throttled caller: RFC 6749 §5.2's 401 invalid_client with a Basic challenge, plus Retry-After in
 * whole seconds within the window. Returns the Retry-After.
 */
export function expectThrottled(res: ResponseLike, windowSeconds: number): number {
  expectTokenError(res, 401, 'invalid_client');
  expect(String(res.headers['www-authenticate'])).toMatch(/^Basic realm="/);
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  return retryAfter;
}

/**
 * A dependency that is down (the registry's database, the issuer): 503 temporarily_unavailable as
 * JSON, with a Retry-After of whole seconds. Returns the Retry-After.
 */
export function expectUnavailable(res: ResponseLike): number {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status: 503, error: 'temporarily_unavailable' });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body.error_description).toMatch(ERROR_DESCRIPTION_CHARS);
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
  return retryAfter;
}

export interface BearerErrorCheck {
  /**
   * Also require the body to be exactly {error, error_description} with the description in
   * ERROR_DESCRIPTION_CHARS, and the challenge to carry that same error_description.
   */
  exact?: boolean;
}

/**
 * An RFC 6750 §3 bearer error: exact status and code, JSON, a Bearer challenge with realm "ccgate"
 * carrying the same code. Returns the challenge's auth-params.
 */
export function expectBearerError(res: ResponseLike, status: number, code: string, check: BearerErrorCheck = {}): Record<string, string> {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status, error: code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  if (check.exact) expect(res.body).toEqual({ error: code, error_description: expect.stringMatching(ERROR_DESCRIPTION_CHARS) });
  const challenge = parseChallenge(res.headers['www-authenticate']);
  expect(challenge.scheme).toBe('Bearer');
  expect(challenge.params.realm).toBe('ccgate');
  expect(challenge.params.error).toBe(code);
  if (check.exact) expect(challenge.params.error_description).toBe(res.body.error_description);
  return challenge.params;
}
