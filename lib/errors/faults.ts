/**
 * Errors that are not OAuth answers themselves: refusals of the registry, of the CLI and of options,
 * and dependencies that are down. Each carries what its handler needs to answer well.
 */

/** The issuer could not be reached or answered nonsense: the guard answers 503, never 401. */
export class IssuerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IssuerUnavailableError';
  }
}

/**
 * The registry's database cannot be reached right now (refused or dropped connections, timeouts,
 * a busy lock): a fast 503 temporarily_unavailable with Retry-After, never a 500 or a hang. Service
 * resumes by itself when the database is back.
 */
export class RegistryUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RegistryUnavailableError';
  }
}

/** Too much hashing already queued: the token endpoint answers 503 with Retry-After. */
export class HasherBusyError extends Error {
  constructor() {
    super('bcrypt queue full');
    this.name = 'HasherBusyError';
  }
}

/** Why a registry operation was refused. The registry knows no HTTP: callers map these to their own answers. */
export type RegistryErrorKind = 'not_found' | 'conflict' | 'invalid';

export class RegistryError extends Error {
  constructor(
    readonly kind: RegistryErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export const notFound = (what: string): RegistryError => new RegistryError('not_found', `${what} not found`);
export const conflict = (message: string): RegistryError => new RegistryError('conflict', message);
export const invalid = (message: string): RegistryError => new RegistryError('invalid', message);

/** CLI exit statuses: 1 refused (not found, conflict, invalid value), 2 usage mistake. */
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

/** A refusal the CLI explains in one line: no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_REFUSED,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string): CliError => new CliError(message, EXIT_USAGE);

/**
 * A bad option, thrown when the object is built (never at the first request). `option` names the
 * option as the caller wrote it, and so does the message. A TypeError, as a wrong argument is.
 */
export class ConfigurationError extends TypeError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigurationError';
  }
}
