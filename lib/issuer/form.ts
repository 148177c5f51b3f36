import { invalidRequest, invalidTarget } from '../errors';

/**
 * RFC 8707 §2 lets a client repeat `resource` to ask for one token valid at several resources;
 * ccgate issues a token for one resource at a time, and says so with the RFC's own error.
 */
const repeated = (name: string): Error =>
  name === 'resource'
    ? invalidTarget('Request one resource per token: the resource parameter may not be repeated.')
    : invalidRequest(`The ${printable(name)} parameter is repeated.`);

/**
 * Parses an application/x-www-form-urlencoded body (RFC 6749 Appendix B) strictly:
 * a repeated parameter is invalid_request (RFC 6749 §3.2), an empty one counts as omitted (§3.1).
 */
export function parseForm(body: string): Map<string, string> {
  const params = new Map<string, string>();
  const seen = new Set<string>();
  for (const [name, value] of new URLSearchParams(body)) {
    if (seen.has(name)) throw repeated(name);
    seen.add(name);
    if (value !== '') params.set(name, value);
  }
  return params;
}

/**
 * The parameters of a body an app-wide parser read before ccgate's (express.urlencoded, express.raw,
 * express.text; body-parser then skips ours): same rules, a repeated parameter (an array) is invalid_request.
 */
export function formParams(body: unknown): Map<string, string> {
  if (typeof body === 'string') return parseForm(body);
  if (Buffer.isBuffer(body)) return parseForm(body.toString('utf8'));
  if (typeof body !== 'object' || body === null) return parseForm('');
  const params = new Map<string, string>();
  for (const [name, value] of Object.entries(body)) {
    if (Array.isArray(value)) throw repeated(name);
    if (typeof value !== 'string') throw invalidRequest(`The ${printable(name)} parameter is malformed.`);
    if (value !== '') params.set(name, value);
  }
  return params;
}

/**
 * A parameter name safe to echo in an error description: RFC 6749 §5.2 allows only
 * %x20-21 / %x23-5B / %x5D-7E there, so no double quote or backslash either.
 */
function printable(name: string): string {
  const clean = name.replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}...` : clean;
}
