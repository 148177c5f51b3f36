import { invalidRequest, invalidTarget } from '../errors';
import type { FormParams } from '../locals';

/**
 * RFC 8707 §2 lets a client repeat `resource` to ask for one token valid at several resources;
 * ccgate issues a token for one resource at a time, and says so with the RFC's own error.
 */
const repeated = (name: string): Error =>
  name === 'resource'
    ? invalidTarget('Request one resource per token: the resource parameter may not be repeated.')
    : invalidRequest(`The ${printable(name)} parameter is repeated.`);

/** A null-prototype record, so a parameter named like an Object method never reads as one. */
const emptyRecord = (): Record<string, string> => Object.create(null) as Record<string, string>;

/**
 * Parses an application/x-www-form-urlencoded body (RFC 6749 Appendix B) strictly, into a
 * null-prototype record: a repeated parameter is invalid_request (RFC 6749 §3.2), an empty one
 * counts as omitted (§3.1).
 */
export function parseFormParams(body: string): FormParams {
  const params = emptyRecord();
  // Names seen with an empty value: omitted, but a repeat of one is still a repeat.
  let empty: Set<string> | undefined;
  for (const [name, value] of new URLSearchParams(body)) {
    if (name in params || empty?.has(name)) throw repeated(name);
    if (value !== '') params[name] = value;
    else (empty ??= new Set()).add(name);
  }
  return params;
}

/** parseFormParams as a Map. */
export function parseForm(body: string): Map<string, string> {
  return new Map(Object.entries(parseFormParams(body)).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/**
 * The parameters of a body an app-wide parser read before ccgate's (express.urlencoded, express.raw,
 * express.text; body-parser then skips ours): same rules, a repeated parameter (an array) is invalid_request.
 */
export function formParams(body: unknown): FormParams {
  if (typeof body === 'string') return parseFormParams(body);
  if (Buffer.isBuffer(body)) return parseFormParams(body.toString('utf8'));
  if (typeof body !== 'object' || body === null) return parseFormParams('');
  const params = emptyRecord();
  for (const [name, value] of Object.entries(body)) {
    if (Array.isArray(value)) throw repeated(name);
    if (typeof value !== 'string') throw invalidRequest(`The ${printable(name)} parameter is malformed.`);
    if (value !== '') params[name] = value;
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
