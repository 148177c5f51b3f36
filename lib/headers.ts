/**
 * Node keeps only the first of some repeated request headers (Authorization among them) and joins
 * others (DPoP) into one value, so a second one is invisible or garbled in req.headers: count them
 * in the raw list. Shared by the issuer and the guard.
 */
export function headerCount(rawHeaders: string[], lowerCaseName: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].length === lowerCaseName.length && rawHeaders[i].toLowerCase() === lowerCaseName) count++;
  }
  return count;
}

export const authorizationHeaderCount = (rawHeaders: string[]): number => headerCount(rawHeaders, 'authorization');
