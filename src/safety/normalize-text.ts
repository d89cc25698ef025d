/**
 * Text as the phrase lists are matched against it: lower case, no accents ("desmayé" → "desmaye"),
 * apostrophes dropped ("can't" → "cant"), every other mark a space, single spaces, padded with one
 * space on each side so that `includes(' phrase ')` matches whole words only.
 */
export function normalizeText(text: string): string {
  const words = text
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/['’‘`´]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
  return ` ${words} `;
}
