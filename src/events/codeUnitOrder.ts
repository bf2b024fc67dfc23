/**
 * Ascending code-unit order (numeric for fingerprints): the same in every process and on every
 * database, unlike a locale's or a server-side collation. Event types, dates and users are sorted
 * by it wherever an answer or a stored document lists them.
 */
export function byCodeUnits<T extends string | bigint>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
