import { createHash } from 'node:crypto';

/**
 * The id a single-use value (a client assertion's or a DPoP proof's jti) is remembered under in a
 * replay cache: its owner (a client id, a key thumbprint) and the jti, hashed, so its size is bounded
 * whatever the jti, and one owner's jti never collides with another's.
 */
export const replayId = (owner: string, jti: string): string => createHash('sha256').update(`${owner}\0${jti}`).digest('base64url');
