/**
 * Text a row may hold. MongoDB stores a NUL inside a string, but FerretDB on PostgreSQL cannot
 * (jsonb), so one would fail the insert half-way through an upload; it is a row error instead.
 * U+FFFD is what reading the file as UTF-8 makes of bytes that are not UTF-8 (a Latin-1 or
 * Windows-1252 export, say): storing it would keep a mangled id, so the file is refused instead.
 */
export function unstorableTextReason(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character';
  if (value.includes('\ufffd')) {
    return 'is not valid UTF-8 (bytes that are not UTF-8 read as U+FFFD): save the file as UTF-8';
  }
  return undefined;
}

/**
 * Why a body that starts with `head` is not UTF-8 text, or undefined when it may be: a UTF-16 byte
 * order mark, or a NUL in its first two bytes (UTF-16 writes one beside every ASCII character).
 */
export function notUtf8Reason(head: Buffer): string | undefined {
  if (head[0] === 0xfe && head[1] === 0xff)
    return 'it starts with the byte order mark of UTF-16 (big-endian)';
  if (head[0] === 0xff && head[1] === 0xfe)
    return 'it starts with the byte order mark of UTF-16 (little-endian)';
  if (head[0] === 0 || head[1] === 0) return 'it starts with a NUL byte, as UTF-16 text does';
  return undefined;
}
