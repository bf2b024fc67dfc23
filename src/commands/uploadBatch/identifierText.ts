/**
 * userId and eventType are compared as text: the same name must be the same string, and what a
 * person reads must be what is stored. So identifiers are normalised to NFC (a precomposed "é" and
 * "e" plus a combining accent are one name), and characters that do not show, or that reorder or
 * break the text around them, are refused: control characters (tab, newline, ...), format
 * characters (zero-width spaces and joiners, soft hyphens, bidi overrides that make "purchase"
 * display as "esahcrup") and the Unicode line and paragraph separators.
 */

const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

export function normaliseIdentifier(value: string): string {
  return value.trim().normalize('NFC');
}

/** Why `value` cannot be an identifier, naming the first offending code point; undefined if it can. */
export function hiddenCharacterReason(value: string): string | undefined {
  const found = HIDDEN.exec(value);
  if (found === null) return undefined;
  const code = (found[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return `contains an invisible, control or text-direction character (U+${code}); remove it`;
}
