/**
 * Access token extraction: RFC 6750 §2 (Bearer) and RFC 9449 §7.1 (DPoP). Only the Authorization
 * header is accepted: RFC 9700 §4.3.2 and RFC 6750 §5.3 warn against tokens in URIs, and form-body
 * tokens need a parsed body we do not own.
 */

import type { TokenScheme } from '../errors';
import { authorizationHeaderCount } from '../headers';

/** What extraction reads from a request (an Express Request satisfies it). */
export interface BearerSource {
  headers: { authorization?: string };
  rawHeaders: string[];
  url?: string;
  query?: unknown;
  body?: unknown;
}

export type Extraction = { kind: 'token'; token: string; scheme: TokenScheme } | { kind: 'none' } | { kind: 'malformed'; reason: string };

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; RFC 9449 §7.1: the same token68 after "DPoP".
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

function hasParam(container: unknown, name: string): boolean {
  return typeof container === 'object' && container !== null && Object.prototype.hasOwnProperty.call(container, name);
}

export function extractBearerToken(req: BearerSource): Extraction {
  const found = locateToken(req);
  return found.kind === 'candidate' ? checkedToken(found) : found;
}

/** A token found in the Authorization header whose own syntax (b64token) is not checked yet; `elsewhere`: sent in the URI or the body too. */
export interface TokenCandidate {
  kind: 'candidate';
  token: string;
  scheme: TokenScheme;
  elsewhere: boolean;
}

/**
 * Every check of extractBearerToken before the token's own syntax, in the same order. A caller that
 * recognises the token as one it verified (a compact JWS: base64url parts and dots, so a b64token)
 * may take it as it is when `elsewhere` is false: checkedToken would accept it. Any other goes
 * through checkedToken.
 */
export function locateToken(req: BearerSource): Extraction | TokenCandidate {
  const header = req.headers.authorization;
  // Express parses the query string on every req.query read: only look when the URL has one.
  const inUri = (req.url === undefined || req.url.includes('?')) && hasParam(req.query, 'access_token');
  const inBody = hasParam(req.body, 'access_token');
  if (header === undefined) {
    if (inUri || inBody) return { kind: 'malformed', reason: 'Send the access token in the Authorization header only.' };
    return { kind: 'none' };
  }
  // Node keeps only the first of repeated Authorization headers: look at the raw list (RFC 6750 §3.1).
  if (authorizationHeaderCount(req.rawHeaders) > 1) return { kind: 'malformed', reason: 'More than one Authorization header.' };
  const space = header.indexOf(' ');
  const scheme = schemeOf(space === -1 ? header : header.slice(0, space));
  if (scheme === null) return { kind: 'none' }; // another scheme: no access token
  if (space === -1) return { kind: 'malformed', reason: `Malformed ${scheme} authorization header.` };
  // 1*SP: however many spaces precede the token.
  let start = space + 1;
  while (header.charCodeAt(start) === 0x20) start++;
  return { kind: 'candidate', token: header.slice(start), scheme, elsewhere: inUri || inBody };
}

/** The rest of extractBearerToken: the token's syntax, then RFC 6750 §3.1's one method only. */
export function checkedToken(found: TokenCandidate): Extraction {
  if (!B64TOKEN.test(found.token)) return { kind: 'malformed', reason: `Malformed ${found.scheme} authorization header.` };
  // RFC 6750 §3.1: more than one method of including the token.
  if (found.elsewhere) return { kind: 'malformed', reason: 'The access token was sent in more than one way.' };
  return { kind: 'token', token: found.token, scheme: found.scheme };
}

/** Auth schemes are case-insensitive (RFC 9110 §11.1). */
function schemeOf(name: string): TokenScheme | null {
  const lower = name.toLowerCase();
  return lower === 'bearer' ? 'Bearer' : lower === 'dpop' ? 'DPoP' : null;
}
