/**
 * Scope grammar, RFC 6749 §3.3:
 *   scope       = scope-token *( SP scope-token )
 *   scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
 * Pure functions shared by the registry (what a group may hold), the issuer (the request's `scope`)
 * and the guard (the token's `scope` claim and the route's needs).
 */

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Longest scope-token we accept anywhere; keeps registry rows and tokens small. */
export const MAX_SCOPE_TOKEN_LENGTH = 128;

export function isScopeToken(value: string): boolean {
  return value.length <= MAX_SCOPE_TOKEN_LENGTH && SCOPE_TOKEN.test(value);
}

/**
 * Parses a space-delimited scope string strictly (single spaces, no leading or trailing space).
 * Returns the distinct scopes in first-seen order, or null when the string breaks the grammar.
 */
export function parseScope(value: string): string[] | null {
  if (value === '') return null;
  const tokens = value.split(' ');
  for (const token of tokens) if (!isScopeToken(token)) return null;
  return tokens.length === 1 ? tokens : [...new Set(tokens)];
}

/** The wire form of a scope list: distinct tokens, space-delimited, in the given order. */
export function formatScope(scopes: Iterable<string>): string {
  return [...new Set(scopes)].join(' ');
}
