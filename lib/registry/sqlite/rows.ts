/** Column encodings shared by the table modules. */

/** A json_group_array() result back to a list. */
export function jsonList(value: string): string[] {
  return JSON.parse(value) as string[];
}

/** grant_types is space-joined (schema 1): '' is the empty list. */
export function spacedList(value: string): string[] {
  return value ? value.split(' ') : [];
}
