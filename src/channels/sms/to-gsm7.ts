/**
 * Typographic punctuation and spacing that a model (or a document) writes, and the GSM-7 character an
 * SMS shows in its place. One curly apostrophe makes a whole SMS UCS-2: 67 characters a segment
 * instead of 153. Letters are never changed (an accented word keeps its accent, and its price).
 */
const REPLACEMENTS: [RegExp, string][] = [
  [/[\u2018\u2019\u201A\u201B\u2032\u0060\u00B4]/g, "'"],
  [/[\u201C\u201D\u201E\u201F\u2033\u00AB\u00BB]/g, '"'],
  [/[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]/g, '-'],
  [/\u2026/g, '...'],
  [/[\u2022\u00B7\u25CF\u25AA]/g, '-'],
  [/[\u00A0\u2000-\u200A\u202F\u205F\u3000\t]/g, ' '],
  // Invisible, and each one alone would make the message UCS-2.
  [/[\u200B\u2060\uFEFF\u00AD]/g, ''],
];

/** The text with typographic punctuation replaced by its GSM-7 equivalent; idempotent. */
export function toGsm7(text: string): string {
  let result = text;
  for (const [pattern, replacement] of REPLACEMENTS) result = result.replace(pattern, replacement);
  return result;
}
