import { isIPv4 } from 'node:net';

/** Longest jwks_uri accepted. */
const MAX_URL_LENGTH = 2048;

/** Loopback hosts: 127.0.0.0/8, ::1, localhost (RFC 6761 §6.3). The WHATWG URL parser has normalized them. */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return isIPv4(hostname) && hostname.startsWith('127.');
}

/**
 * Checks a client's jwks_uri (RFC 7591 §2): an absolute https URL, or http to a loopback host when
 * `allowHttpLoopback` is on (tests, a key server beside the issuer); no user or password in it, no
 * fragment. Returns the URL normalized.
 */
export function checkKeySetUrl(url: string, options: { allowHttpLoopback: boolean }): { ok: true; url: string } | { ok: false; error: string } {
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_URL_LENGTH)
    return { ok: false, error: `jwks_uri must be a URL of at most ${MAX_URL_LENGTH} characters` };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, error: `jwks_uri "${url}" is not an absolute URL` };
  }
  if (parsed.username !== '' || parsed.password !== '') return { ok: false, error: 'jwks_uri must not carry a user name or password' };
  // An empty fragment ("...#") leaves parsed.hash empty, so look at the text itself.
  if (url.includes('#')) return { ok: false, error: 'jwks_uri must not have a fragment' };
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) {
    if (!options.allowHttpLoopback) return { ok: false, error: 'jwks_uri must use https (plain http to a loopback host is not allowed here)' };
  } else if (parsed.protocol !== 'https:') {
    return { ok: false, error: 'jwks_uri must use https' };
  }
  return { ok: true, url: parsed.href };
}
