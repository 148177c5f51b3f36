import { IssuerUnavailableError } from '../errors';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Largest issuer document (metadata, JWKS, introspection answer) we read. */
const MAX_DOCUMENT_BYTES = 256 * 1024;

/**
 * Fetches a JSON object from the issuer with a timeout and a size bound; only from URLs we chose,
 * never from a token. Failures are IssuerUnavailableError (the remote guard answers 503).
 */
export async function fetchJson(fetchImpl: FetchLike, url: string, timeoutMs: number, init: RequestInit = {}): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetchImpl(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new IssuerUnavailableError(`${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (Number(response.headers.get('content-length') ?? 0) > MAX_DOCUMENT_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw new IssuerUnavailableError(`${url}: response too large`, 'bad_answer');
  }
  const text = await response.text().catch(() => '');
  // RFC 6749 §5.2: 401 (or 400) invalid_client is the issuer refusing our own client credentials.
  if (response.status === 401 || /"invalid_client"/.test(text)) {
    throw new IssuerUnavailableError(`${url}: the issuer refused this service's client credentials (HTTP ${response.status})`, 'credentials_refused');
  }
  if (!response.ok) throw new IssuerUnavailableError(`${url}: HTTP ${response.status}`);
  if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) throw new IssuerUnavailableError(`${url}: response too large`, 'bad_answer');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new IssuerUnavailableError(`${url}: not JSON`, 'bad_answer');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new IssuerUnavailableError(`${url}: not a JSON object`, 'bad_answer');
  return body as Record<string, unknown>;
}
