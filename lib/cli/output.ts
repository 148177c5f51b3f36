// Printing results: compact JSON for machines (--json), aligned text for people.

export class Output {
  constructor(readonly json: boolean) {}

  /** Prints `data` as one line of JSON with --json, otherwise calls `text`. */
  emit(data: unknown, text: () => void): void {
    if (this.json) printJson(data);
    else text();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Messages for the person at the terminal (warnings, errors): stderr, so stdout stays data. */
export function printNotice(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Columns padded to their widest cell; `empty` is printed instead when there are no rows. */
export function printTable(headers: string[], rows: string[][], empty: string): void {
  if (rows.length === 0) return printLine(empty);
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [headers, ...rows]) {
    printLine(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
  }
}

/** "label: value" lines with the values aligned. */
export function printFields(fields: Array<[string, string]>): void {
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  for (const [label, value] of fields) printLine(`${`${label}:`.padEnd(width)} ${value}`);
}

/** Unix seconds -> "2025-01-31T12:00:00Z"; `none` for null. */
export function formatTime(unix: number | null, none = '-'): string {
  return unix === null ? none : new Date(unix * 1000).toISOString().replace('.000Z', 'Z');
}

export function formatList(items: string[], none = '-'): string {
  return items.length === 0 ? none : items.join(' ');
}
