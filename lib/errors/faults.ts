/**
 * Errors that are not OAuth answers themselves: refusals of the registry, of the CLI and of options,
 * and dependencies that are down. Each carries what its handler needs to answer well.
 */

/** Why the remote guard could not use the issuer. */
export type IssuerFailure = 'unreachable' | 'bad_answer' | 'credentials_refused';

/** The issuer could not be reached, answered nonsense, or refused our own credentials: the guard answers 503, never 401. */
export class IssuerUnavailableError extends Error {
  constructor(
    message: string,
    readonly reason: IssuerFailure = 'unreachable',
  ) {
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

/**
 * The registry's SQLite files are no longer the ones this process opened: the database file was
 * replaced (say, `mv backup.db registry.db`) or deleted, or its "-shm" WAL index was removed.
 * Writes would go to a file nobody else sees and reads would miss everyone else's changes, so the
 * storage refuses both from then on; only a restart of the process opens the files anew. Answered
 * 503 like any unavailable registry, and reported to onServerError by the issuer.
 */
export class RegistryFileChangedError extends RegistryUnavailableError {
  constructor(
    message: string,
    /** The path that changed: the database file, or its -shm. */
    readonly path: string,
  ) {
    super(message, 10);
    this.name = 'RegistryFileChangedError';
  }
}

/** Why a stored private signing key cannot be used. */
export type KeyProtectionFailure =
  /** The key is encrypted and no key secret is configured. */
  | 'no_secret'
  /** The key is encrypted under a secret that is neither the current nor a previous one. */
  | 'unknown_secret'
  /** The secret's id matches but decryption fails: the stored value was altered, or is corrupt. */
  | 'undecryptable'
  /** Neither a PEM nor an envelope of a known version. */
  | 'unreadable';

/**
 * A stored private signing key cannot be decrypted (wrong or missing key secret, altered value).
 * The issuer cannot sign with it: the token endpoint answers 503 and reports it to onServerError;
 * ready() rejects with it. Verification never needs a private key, so the guards are unaffected.
 */
export class KeyProtectionError extends Error {
  constructor(
    readonly reason: KeyProtectionFailure,
    /** The key concerned. */
    readonly kid: string,
    message: string,
  ) {
    super(message);
    this.name = 'KeyProtectionError';
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
