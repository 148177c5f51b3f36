// Option-value parsers for commander, and the help-text helper every command uses.
import { InvalidArgumentError } from 'commander';
import { parseDuration } from './duration';

export function durationArg(value: string): number {
  const seconds = parseDuration(value);
  if (seconds === null) throw new InvalidArgumentError('Expected seconds or a duration like 90s, 30m, 24h, 7d.');
  return seconds;
}

export function integerArg(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('Expected a whole number.');
  return Number(value);
}

/** "a b", "a,b", ["a, b", "c"] -> ["a", "b", "c"]. */
export function listArg(values: string | string[]): string[] {
  return [values]
    .flat()
    .flatMap((v) => v.split(/[\s,]+/))
    .filter((v) => v !== '');
}

/** An "Examples:" block for addHelpText('after', ...). */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
