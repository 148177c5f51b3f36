/**
 * Node keeps only the first of some repeated request headers (Authorization among them), so a
 * second one is invisible in req.headers: count them in the raw list. Shared by the issuer and the guard.
 */
export function authorizationHeaderCount(rawHeaders: string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].length === 13 && rawHeaders[i].toLowerCase() === 'authorization') count++;
  }
  return count;
}
