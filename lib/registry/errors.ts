/** Why a registry operation was refused. The registry knows no HTTP: callers map these to their own answers. */
export type RegistryErrorKind = 'not_found' | 'conflict' | 'invalid';

export class RegistryError extends Error {
  constructor(readonly kind: RegistryErrorKind, message: string) {
    super(message);
    this.name = 'RegistryError';
  }
}

export const notFound = (what: string): RegistryError => new RegistryError('not_found', `${what} not found`);
export const conflict = (message: string): RegistryError => new RegistryError('conflict', message);
export const invalid = (message: string): RegistryError => new RegistryError('invalid', message);
