/** A space-joined column (or group_concat result) back to a list: '' and NULL are the empty list. */
export function columnList(value: string | null): string[] {
  return value ? value.split(' ') : [];
}
