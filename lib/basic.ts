/**
 * HTTP Basic client credentials, RFC 6749 §2.3.1 with RFC 7617: the client id and secret are each
 * form-urlencoded, joined by the first ':' (a secret may contain ':'), then base64-encoded. The
 * issuer decodes them; the remote guard encodes its own for introspection.
 *
 * Many clients skip the form-encoding (curl -u, Python requests, most HTTP libraries), so a secret
 * holding '%' or '+' reaches us raw. Both readings are kept: the RFC's first, the raw one after it
 * when it differs (or alone when the raw text is not valid form-urlencoding at all).
 */
export type BasicParse =
  { kind: 'absent' } | { kind: 'credentials'; clientId: string; secrets: [string] | [string, string] } | { kind: 'malformed'; reason: string };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Longest Basic credentials we read; real ones are ~100 characters. */
export const MAX_BASIC_LENGTH = 1024;

export function isBasicAuthorization(header: string | undefined): header is string {
  return header !== undefined && /^basic(\s|$)/i.test(header);
}

/** RFC 6749 Appendix B form-urlencoding: as encodeURIComponent, with space as '+'. */
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

/** The Authorization header value for client_secret_basic. */
export function basicAuthorization(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(secret)}`).toString('base64')}`;
}

function formDecode(value: string): string | null {
  // Nothing to decode (generated ids and secrets are base64url): the value itself, without a regex pass or a decode.
  if (!value.includes('%') && !value.includes('+')) return value;
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

export function parseBasicAuthorization(header: string | undefined): BasicParse {
  if (!isBasicAuthorization(header)) return { kind: 'absent' };
  const encoded = header.slice(5).trim();
  if (encoded.length > MAX_BASIC_LENGTH) return { kind: 'malformed', reason: 'The Basic credentials are too long.' };
  if (encoded.length % 4 !== 0 || !BASE64.test(encoded)) {
    return { kind: 'malformed', reason: 'The Basic credentials are not valid base64.' };
  }
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return { kind: 'malformed', reason: 'The Basic credentials have no colon separator.' };
  const rawId = decoded.slice(0, colon);
  const clientId = formDecode(rawId) ?? rawId;
  if (clientId === '') return { kind: 'malformed', reason: 'The Basic credentials have an empty client id.' };
  return { kind: 'credentials', clientId, secrets: readings(decoded.slice(colon + 1)) };
}

/** The secret as RFC 6749 §2.3.1 reads it, then as sent when that differs. */
function readings(raw: string): [string] | [string, string] {
  const rfc = formDecode(raw);
  if (rfc === null || rfc === raw) return [raw];
  return [rfc, raw];
}
