/** One word of a message, as the safety rules read it. */
export type Word = {
  /** The ways the word may be read: as written (normalised, spelling fixed) and with letters repeated three times or more read once ("sooo" → "so"). */
  forms: string[];
  /** The sentence it is in (split at . ! ? ; and line breaks, and at "but"-like words). */
  clause: number;
  /** The comma-separated piece of the sentence it is in: a hypothetical "if" reaches no further. */
  segment: number;
};

export type Clause = { start: number; end: number };

export type ReadMessage = { words: Word[]; clauses: Clause[] };

/**
 * Reads a patient's message into words the way the rules in config/safety-phrases.json are written:
 * lower case, no accents ("desmayé" → "desmaye"), no apostrophes ("can't" → "cant"), decimal numbers
 * kept whole ("38,6" → "38.6"), numbers split from their units ("3kg" → "3 kg", "38°C" → "38 deg c"),
 * common misspellings fixed. Sentence and comma boundaries are kept, since the rules look for words
 * near each other in one sentence.
 */
export function readWords(text: string, options: { spelling: Map<string, string>; clauseBreaks: Set<string> }): ReadMessage {
  const prepared = text
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/['’‘`´]/g, '')
    .replace(/(\d),(\d{1,2})(?!\d)/g, '$1.$2')
    .replace(/[°º]/g, ' deg ')
    .replace(/(\d)([a-z])/g, '$1 $2')
    .replace(/([a-z])(\d)/g, '$1 $2');

  const words: Word[] = [];
  const clauses: Clause[] = [];
  let clause = 0;
  let segment = 0;
  let clauseStart = 0;
  const closeClause = () => {
    if (words.length > clauseStart) {
      clauses.push({ start: clauseStart, end: words.length - 1 });
      clause++;
    }
    clauseStart = words.length;
    segment++;
  };

  // Words (a decimal point only between digits), and the marks that end a sentence or a piece of one.
  for (const match of prepared.matchAll(/\d+(?:\.\d+)?|[\p{L}\p{N}]+|[.!?;\n]|[,:()¿¡]/gu)) {
    const token = match[0];
    if (/^[.!?;\n]$/.test(token)) closeClause();
    else if (/^[,:()¿¡]$/.test(token)) segment++;
    else {
      for (const part of spell(token, options.spelling)) {
        if (options.clauseBreaks.has(part)) {
          closeClause();
          continue;
        }
        const forms = new Set([part]);
        if (/(\p{L})\1\1/u.test(part)) {
          forms.add(spell(part.replace(/(\p{L})\1{2,}/gu, '$1$1'), options.spelling).join(' '));
          forms.add(spell(part.replace(/(\p{L})\1{2,}/gu, '$1'), options.spelling).join(' '));
        }
        words.push({ forms: [...forms], clause, segment });
      }
    }
  }
  closeClause();
  return { words, clauses };
}

/** A word with its misspelling fixed; a fix may be two words ("alot" → "a lot"). */
function spell(word: string, spelling: Map<string, string>): string[] {
  return (spelling.get(word) ?? word).split(' ');
}
