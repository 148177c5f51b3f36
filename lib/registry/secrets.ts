import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { ConfigurationError, invalid } from '../errors';

/** bcrypt reads at most 72 bytes: a longer secret would be silently truncated, so we refuse it. */
export const MAX_SECRET_BYTES = 72;
export const MIN_SECRET_BYTES = 16;

/** 32 random bytes, base64url: no character that Basic or form encoding would change (RFC 6749 §2.3.1). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function assertAcceptableSecret(secret: string): void {
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    throw invalid(`a client secret must be ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes long (got ${bytes})`);
  }
}

export function assertBcryptCost(cost: number): void {
  if (!Number.isInteger(cost) || cost < 4 || cost > 15) throw new ConfigurationError('bcryptCost', 'bcrypt cost must be an integer from 4 to 15');
}

export function hashSecret(secret: string, cost: number): Promise<string> {
  return bcrypt.hash(secret, cost);
}

/**
 * A fresh client id: 16 random bytes, base64url (URL- and header-safe, unguessable), redrawn when it
 * would start with '-' or '_' so it never reads as a command-line option.
 */
export function generateClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}
