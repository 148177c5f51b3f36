import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

/** 32 random bytes, base64url: no character that Basic or form encoding would change (RFC 6749 §2.3.1). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** bcryptjs's asynchronous hash works in slices, so the event loop keeps serving meanwhile. */
export function hashSecret(secret: string, cost: number): Promise<string> {
  return bcrypt.hash(secret, cost);
}

/** Hashes with the salt (and cost) of an existing bcrypt hash: its first 29 characters, "$2b$10$" and 22 more. */
export function hashSecretWithSalt(secret: string, existingHash: string): Promise<string> {
  return bcrypt.hash(secret, existingHash.slice(0, 29));
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
