/** A refusal the CLI explains in one line: no stack trace. Exit 1 by default, 2 for usage mistakes. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

export const usageError = (message: string): CliError => new CliError(message, EXIT_USAGE);
