/**
 * DPoP (RFC 9449) at a resource server, from the client's side: proofs for a resource request (with
 * `ath`), bound tokens from a real token endpoint, requests carrying `Authorization: DPoP` and any
 * number of DPoP headers on a connection of their own, every challenge of a WWW-Authenticate header
 * (RFC 9110 §11.6.1: several, comma-separated), and a forwarding proxy on loopback. Proof keys and
 * proofs themselves are test/support/dpop.ts's.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { dpopProof, dpopTokenRequest, tokenProof, type DpopKey, type DpopProofInput } from './dpop';
import { listen, requestUrl, type Listening, type RawResponse } from './http';
import type { ClientAuth } from './oauth';

/** RFC 9449 §4.2 ath: base64url(SHA-256(the access token's ASCII octets)), computed here, not by ccgate. */
export const athOf = (token: string): string => createHash('sha256').update(token, 'ascii').digest('base64url');

/** The algorithms ccgate's challenges list in `algs` (RFC 9449 §7.1), in its order. */
export const DPOP_CHALLENGE_ALGS = 'ES256 RS256 PS256';

/**
 * A proof by `key` for `htm` `htu` and the access token `token` (its ath), anything of the input
 * overridden (an override of `ath: undefined` leaves ath out).
 */
export function resourceProof(key: DpopKey, htm: string, htu: string, token: string, extra: Partial<DpopProofInput> = {}): string {
  return dpopProof({ privateKey: key.privateKey, publicJwk: key.publicJwk, alg: key.alg, htm, htu, ath: athOf(token), ...extra });
}

/** The private half of a key as a JWK (d, and p, q... for RSA): what a careless client puts in `jwk`, or an interop script signs with. */
export const privateJwkOf = (key: DpopKey): Record<string, string> => key.privateKey.export({ format: 'jwk' }) as Record<string, string>;

/** A DPoP-bound token (token_type DPoP, cnf.jkt = key.jkt) from the real token endpoint; fails the test on refusal. */
export async function boundToken(issuer: { endpoints: string }, client: ClientAuth, key: DpopKey, form: Record<string, string> = {}): Promise<string> {
  const res = await dpopTokenRequest(issuer.endpoints, client, { dpop: tokenProof(key, `${issuer.endpoints}/token`), form });
  if (res.status !== 200 || res.body?.token_type !== 'DPoP') throw new Error(`DPoP token request failed: ${res.status} ${res.text}`);
  return res.body.access_token as string;
}

export interface DpopCall {
  /** The access token; none: no Authorization header. */
  token?: string;
  /** The Authorization scheme (default DPoP). */
  scheme?: string;
  /** The DPoP header: one value, several (repeated header lines), or none. */
  proof?: string | string[];
  method?: string;
  /** Other request headers (Host, X-Forwarded-*). */
  headers?: Record<string, string>;
  body?: string;
}

/** One request to `url` on a connection of its own, with `Authorization: <scheme> <token>` and the DPoP header(s) as given. */
export function dpopCall(url: string, call: DpopCall = {}): Promise<RawResponse> {
  const headers: Record<string, string | string[]> = { ...call.headers };
  if (call.token !== undefined) headers.Authorization = `${call.scheme ?? 'DPoP'} ${call.token}`;
  if (call.proof !== undefined) headers.DPoP = call.proof;
  return requestUrl(url, { method: call.method ?? 'GET', headers, body: call.body });
}

/** A GET (or `method`) of `url` with a bound token and a fresh, valid proof by `key` for that very request. */
export function provenCall(url: string, token: string, key: DpopKey, call: Omit<DpopCall, 'token' | 'proof'> & { htu?: string } = {}): Promise<RawResponse> {
  const method = call.method ?? 'GET';
  return dpopCall(url, { ...call, token, method, proof: resourceProof(key, method, call.htu ?? url.split('?')[0], token) });
}

// ---- challenges ----

export interface Challenge {
  /** As sent (case kept). */
  scheme: string;
  /** auth-params, names lower-cased, quoted-string values unescaped. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const QUOTED = /"((?:[^"\\]|\\.)*)"/y;

/**
 * Every challenge of a WWW-Authenticate value (RFC 9110 §11.6.1: `#challenge`, each `scheme
 * [auth-param *("," auth-param)]`): a token not followed by "=" starts a challenge, `name=value` adds to
 * the current one. token68 values are not expected here.
 */
export function parseChallenges(header: string | string[] | undefined | null): Challenge[] {
  if (header === undefined || header === null) throw new Error('no WWW-Authenticate header');
  const text = Array.isArray(header) ? header.join(', ') : header;
  const challenges: Challenge[] = [];
  let i = 0;
  const skip = (chars: RegExp): void => {
    while (i < text.length && chars.test(text[i])) i++;
  };
  const read = (re: RegExp): RegExpExecArray | null => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (m) i = re.lastIndex;
    return m;
  };
  for (;;) {
    skip(/[\s,]/);
    if (i >= text.length) return challenges;
    const name = read(TOKEN);
    if (!name) throw new Error(`unparsable WWW-Authenticate at ${i}: ${text}`);
    skip(/\s/);
    if (text[i] !== '=') {
      challenges.push({ scheme: name[0], params: {} });
      continue;
    }
    i++;
    skip(/\s/);
    const value = text[i] === '"' ? read(QUOTED)?.[1]?.replace(/\\(.)/g, '$1') : read(TOKEN)?.[0];
    const current = challenges[challenges.length - 1];
    if (value === undefined || current === undefined) throw new Error(`unparsable WWW-Authenticate at ${i}: ${text}`);
    current.params[name[0].toLowerCase()] = value;
  }
}

/** The challenges of a response, by scheme; fails when a scheme repeats. */
export function challengesOf(res: { headers: Record<string, unknown> }): Record<string, Record<string, string>> {
  const header = res.headers['www-authenticate'] as string | undefined;
  const out: Record<string, Record<string, string>> = {};
  for (const c of parseChallenges(header)) {
    if (c.scheme in out) throw new Error(`scheme ${c.scheme} challenged twice: ${header}`);
    out[c.scheme] = c.params;
  }
  return out;
}

/** The schemes a response challenges, in order. */
export const schemesOf = (res: { headers: Record<string, unknown> }): string[] =>
  parseChallenges(res.headers['www-authenticate'] as string | undefined).map((c) => c.scheme);

/**
 * A resource server's DPoP refusal (RFC 9449 §7.1, §9): 401, JSON {error, error_description}, the
 * error in the DPoP challenge (with realm and algs), never in the Bearer one if there is one.
 * Returns the challenges by scheme.
 */
export function expectDpopError(res: RawResponse, code: 'invalid_dpop_proof' | 'use_dpop_nonce' | 'invalid_token' = 'invalid_dpop_proof') {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status: 401, error: code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const challenges = challengesOf(res);
  expect(challenges.DPoP).toMatchObject({ realm: 'ccgate', error: code, algs: DPOP_CHALLENGE_ALGS });
  if (challenges.Bearer) expect(challenges.Bearer.error).toBeUndefined();
  return challenges;
}

// ---- a proxy ----

export interface ForwardingProxy extends Listening {
  /** Requests forwarded so far. */
  readonly forwarded: number;
}

/**
 * A reverse proxy on 127.0.0.1 in front of `target` (an origin), like a TLS terminator: it forwards
 * method, path, headers and body, with `setHeaders` added (X-Forwarded-Proto, X-Forwarded-Host...) and
 * Host rewritten to the target's unless `setHeaders` names one.
 */
export async function startForwardingProxy(target: string, setHeaders: Record<string, string>): Promise<ForwardingProxy> {
  const upstream = new URL(target);
  let forwarded = 0;
  const listening = await listen((req, res) => {
    forwarded++;
    const headers = { ...req.headers, host: upstream.host, ...Object.fromEntries(Object.entries(setHeaders).map(([k, v]) => [k.toLowerCase(), v])) };
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  });
  return {
    ...listening,
    get forwarded() {
      return forwarded;
    },
  };
}
