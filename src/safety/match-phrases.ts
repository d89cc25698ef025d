import type { ReadMessage, Word } from './read-words.ts';

/** One word of a phrase: exact, a prefix ("bleed*"), or any word ("*"). */
type PatternWord = { text: string; prefix: boolean; any: boolean };

export type Phrase = { source: string; words: PatternWord[] };

/** Where a phrase was found: the first and last word (inclusive), and the words that matched it. */
export type Match = { start: number; end: number; clause: number; matched: number[] };

/** "feel* faint" → a phrase of two pattern words. Written in the same normalised form as messages. */
export function compilePhrase(source: string): Phrase {
  const words = source
    .split(' ')
    .filter(Boolean)
    .map((text) => (text === '*' ? { text: '', prefix: false, any: true } : text.endsWith('*') ? { text: text.slice(0, -1), prefix: true, any: false } : { text, prefix: false, any: false }));
  return { source, words };
}

const MAX_FILLERS = 2;

/**
 * Which phrases could start at a word, found without trying them all: a message is read against more
 * than a thousand phrases in some fifty lists, on the webhook's path (an emergency is flagged when it
 * is stored), so each word looks up its candidates by exact word, by prefix, and (for words of five
 * letters or more) among the first words one slip away. Built once per phrase list.
 */
type PhraseIndex = {
  exact: Map<string, Phrase[]>;
  prefix: Map<string, Phrase[]>;
  prefixLengths: number[];
  any: Phrase[];
  /**
   * First pattern words of six letters or more, which a one-letter slip may match: whole words by
   * length (a slip changes the length by one at most), prefixes shortest first (a form shorter than a
   * prefix less one letter cannot match it). Trying every such word on every word of a message was
   * the hottest code of the webhook's path (node --cpu-prof at 500 webhooks a second).
   */
  fuzzyWhole: Map<number, FuzzyEntry[]>;
  fuzzyPrefix: FuzzyEntry[];
  /**
   * The phrases each form of a word may start, as found before: patients write with a few thousand
   * words, and some fifty lists each looked every word of every message up again. Bounded: emptied
   * when full.
   */
  seen: { exact: Map<string, Phrase[]>; near: Map<string, Phrase[]> };
};

const SEEN_FORMS = 2_000;
/** Most forms start no phrase of a list: they share one empty answer. */
const NONE: Phrase[] = [];

type FuzzyEntry = { word: PatternWord; phrases: Phrase[] };

const indexes = new WeakMap<Phrase[], PhraseIndex>();

function indexOf(phrases: Phrase[]): PhraseIndex {
  let index = indexes.get(phrases);
  if (index) return index;
  index = { exact: new Map(), prefix: new Map(), prefixLengths: [], any: [], fuzzyWhole: new Map(), fuzzyPrefix: [], seen: { exact: new Map(), near: new Map() } };
  const fuzzy = new Map<string, FuzzyEntry>();
  const add = <K, T>(map: Map<K, T[]>, key: K, item: T) => map.set(key, [...(map.get(key) ?? []), item]);
  for (const phrase of phrases) {
    const first = phrase.words[0];
    if (!first) continue;
    if (first.any) index.any.push(phrase);
    else if (first.prefix) add(index.prefix, first.text, phrase);
    else add(index.exact, first.text, phrase);
    if (!first.any && first.text.length >= 6) {
      const key = `${first.prefix ? '*' : ''}${first.text}`;
      const entry = fuzzy.get(key) ?? { word: first, phrases: [] };
      entry.phrases.push(phrase);
      fuzzy.set(key, entry);
    }
  }
  index.prefixLengths = [...new Set([...index.prefix.keys()].map((key) => key.length))].sort((a, b) => a - b);
  for (const entry of fuzzy.values()) {
    if (entry.word.prefix) index.fuzzyPrefix.push(entry);
    else add(index.fuzzyWhole, entry.word.text.length, entry);
  }
  index.fuzzyPrefix.sort((a, b) => a.word.text.length - b.word.text.length);
  indexes.set(phrases, index);
  return index;
}

/** Builds the lists' indexes now (see indexOf), rather than on the first message that needs each. */
export function indexPhraseLists(lists: Phrase[][]): void {
  for (const list of lists) indexOf(list);
}

function candidates(index: PhraseIndex, word: Word, exact: boolean): Iterable<Phrase> {
  // The common case, a word read one way and no phrase that starts with any word: no set to build.
  if (word.forms.length === 1 && index.any.length === 0) return startingWithSeen(index, word.forms[0]!, exact);
  const found = new Set<Phrase>(index.any);
  for (const form of word.forms) for (const phrase of startingWithSeen(index, form, exact)) found.add(phrase);
  return found;
}

// Plain functions, no closures made per word: this runs some fifty times per word of every message.
function startingWithSeen(index: PhraseIndex, form: string, exact: boolean): Phrase[] {
  const seen = exact ? index.seen.exact : index.seen.near;
  let phrases = seen.get(form);
  if (!phrases) {
    phrases = startingWith(index, form, exact);
    if (seen.size >= SEEN_FORMS) seen.clear();
    seen.set(form, phrases);
  }
  return phrases;
}

/** The phrases whose first word `form` may be: exactly, by prefix, or (unless `exact`) one slip away. */
function startingWith(index: PhraseIndex, form: string, exact: boolean): Phrase[] {
  const found = new Set<Phrase>(index.exact.get(form));
  for (const length of index.prefixLengths) {
    if (length > form.length) break;
    for (const phrase of index.prefix.get(form.slice(0, length)) ?? []) found.add(phrase);
  }
  // No slip is forgiven in a word with a digit (see formMatches); exact and prefix matches are above.
  if (exact || form.length < 5 || hasDigit(form)) return found.size === 0 ? NONE : [...found];
  for (let length = form.length - 1; length <= form.length + 1; length++) {
    for (const entry of index.fuzzyWhole.get(length) ?? []) if (formMatches(form, entry.word, false)) for (const phrase of entry.phrases) found.add(phrase);
  }
  for (const entry of index.fuzzyPrefix) {
    if (entry.word.text.length > form.length + 1) break;
    if (formMatches(form, entry.word, false)) for (const phrase of entry.phrases) found.add(phrase);
  }
  return found.size === 0 ? NONE : [...found];
}

function hasDigit(form: string): boolean {
  for (let i = 0; i < form.length; i++) {
    const code = form.charCodeAt(i);
    if (code >= 48 && code <= 57) return true;
  }
  return false;
}

/**
 * Every place the phrases occur in the message, inside one sentence. Filler words ("so", "really")
 * may sit between a phrase's words: "feel faint" also matches "feel really faint". With `exact`, no
 * slip of the keyboard is forgiven: an exception must not swallow a word it only resembles
 * ("desaparece", an exception, is one letter from "desaparecer", a red flag).
 */
export function findPhrases(message: ReadMessage, phrases: Phrase[], fillers: Set<string>, exact = false): Match[] {
  const found: Match[] = [];
  const { words } = message;
  const index = indexOf(phrases);
  for (let start = 0; start < words.length; start++) {
    for (const phrase of candidates(index, words[start]!, exact)) {
      if (!wordMatches(words[start]!, phrase.words[0]!, exact)) continue;
      const matched = [start];
      let at = start + 1;
      let complete = true;
      for (let k = 1; k < phrase.words.length; k++) {
        let skipped = 0;
        while (at < words.length && words[at]!.clause === words[start]!.clause && !wordMatches(words[at]!, phrase.words[k]!, exact) && skipped < MAX_FILLERS && isFiller(words[at]!, fillers)) {
          at++;
          skipped++;
        }
        if (at >= words.length || words[at]!.clause !== words[start]!.clause || !wordMatches(words[at]!, phrase.words[k]!, exact)) {
          complete = false;
          break;
        }
        matched.push(at);
        at++;
      }
      if (complete) found.push({ start, end: matched.at(-1)!, clause: words[start]!.clause, matched });
    }
  }
  return found;
}

function isFiller(word: Word, fillers: Set<string>): boolean {
  return word.forms.some((form) => fillers.has(form));
}

function wordMatches(word: Word, pattern: PatternWord, exact: boolean): boolean {
  if (pattern.any) return true;
  return word.forms.some((form) => formMatches(form, pattern, exact));
}

/**
 * Exact or prefix, and for longer words one slip of the keyboard too (a letter missing, added,
 * changed or swapped: "excrutiating", "breahting"). Short words must match as written: "faint" is
 * one letter from "paint".
 */
function formMatches(form: string, pattern: PatternWord, exact: boolean): boolean {
  const { text } = pattern;
  if (pattern.prefix ? form.startsWith(text) : form === text) return true;
  if (exact || text.length < 6 || hasDigit(form)) return false;
  if (!pattern.prefix) return Math.abs(form.length - text.length) <= 1 && withinOneEdit(form, text);
  for (const length of [text.length - 1, text.length, text.length + 1]) {
    if (form.length >= length && withinOneEdit(form.slice(0, length), text)) return true;
  }
  return false;
}

/** Damerau–Levenshtein distance at most one. */
function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
  }
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}
