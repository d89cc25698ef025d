import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { compilePhrase, type Phrase } from './match-phrases.ts';
import { normalizeText } from './normalize-text.ts';

const phraseList = z.array(z.string().trim().min(1)).min(1);
const wordList = z.array(z.string().trim().min(1));

const combination = z.object({
  name: z.string().min(1),
  category: z.enum(['medical', 'self_harm']).default('medical'),
  near: z.array(z.string().min(1)).min(1),
  within: z.number().int().min(1).max(30),
  anywhere: z.array(z.string().min(1)).optional(),
});

const schema = z.object({
  fillers: wordList,
  spelling: z.record(z.string(), z.string().min(1)),
  lists: z.record(z.string(), phraseList),
  redFlags: z.object({ medical: phraseList, selfHarm: phraseList }),
  combinations: z.array(combination).min(1),
  exceptions: wordList,
  negators: wordList,
  clauseBreaks: wordList,
  hypothetical: wordList,
  questionStarts: wordList,
  presentMarkers: wordList,
  numbers: z.object({
    feverCelsius: z.number().min(36).max(42),
    feverFahrenheit: z.number().min(97).max(108),
    kgPerDay: z.number().positive(),
    lbPerDay: z.number().positive(),
  }),
  symptoms: phraseList,
  handoffPhrases: phraseList,
  handoffWords: phraseList,
  optOut: phraseList,
  optIn: phraseList,
});

export type Combination = { name: string; category: 'medical' | 'self_harm'; near: Phrase[][]; within: number; anywhere: Phrase[][] };

/** The clinic's safety rules, read and compiled once at start. */
export type SafetyPhrases = {
  fillers: Set<string>;
  spelling: Map<string, string>;
  clauseBreaks: Set<string>;
  redFlags: { medical: Phrase[]; selfHarm: Phrase[] };
  combinations: Combination[];
  exceptions: Phrase[];
  negators: Phrase[];
  hypothetical: Phrase[];
  questionStarts: Phrase[];
  presentMarkers: Phrase[];
  numbers: z.infer<typeof schema>['numbers'];
  lists: Record<string, Phrase[]>;
  symptoms: Phrase[];
  /** Matched against the whole normalised message (" talk to a person "), as before. */
  handoffPhrases: string[];
  handoffWords: string[];
  optOut: string[];
  optIn: string[];
};

/**
 * Reads the clinic's editable safety file (config/safety-phrases.json) once at start. A broken file
 * stops the start with its path and the field at fault: the emergency net must not silently be empty
 * or point at a list that does not exist.
 */
export function loadSafetyPhrases(path: string): SafetyPhrases {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`SAFETY_PHRASES_FILE ${path} could not be read as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`).join('; ');
    throw new Error(`SAFETY_PHRASES_FILE ${path} is not valid: ${problems}`);
  }
  const p = parsed.data;
  const unknownLists: string[] = [];
  const lists: Record<string, Phrase[]> = {};
  for (const [name, phrases] of Object.entries(p.lists)) lists[name] = phrases.map((phrase) => compilePhrase(clean(phrase)));
  /** A list of phrases in which "@name" stands for every phrase of lists.name. */
  const expand = (phrases: string[], where: string): Phrase[] =>
    phrases.flatMap((phrase) => {
      if (!phrase.startsWith('@')) return [compilePhrase(clean(phrase))];
      const list = lists[phrase.slice(1)];
      if (!list) unknownLists.push(`${where}: ${phrase}`);
      return list ?? [];
    });
  const words = (list: string[]) => [...new Set(list.map((phrase) => normalizeText(phrase)))];
  const compiled: SafetyPhrases = {
    fillers: new Set(p.fillers.map(clean)),
    spelling: new Map(Object.entries(p.spelling).map(([wrong, right]) => [clean(wrong), clean(right)])),
    clauseBreaks: new Set(p.clauseBreaks.map(clean)),
    redFlags: { medical: expand(p.redFlags.medical, 'redFlags.medical'), selfHarm: expand(p.redFlags.selfHarm, 'redFlags.selfHarm') },
    combinations: p.combinations.map((c, i) => ({
      name: c.name,
      category: c.category,
      within: c.within,
      near: c.near.map((item) => expand([item], `combinations[${i}].near`)),
      anywhere: (c.anywhere ?? []).map((item) => expand([item], `combinations[${i}].anywhere`)),
    })),
    exceptions: expand(p.exceptions, 'exceptions'),
    negators: expand(p.negators, 'negators'),
    hypothetical: expand(p.hypothetical, 'hypothetical'),
    questionStarts: expand(p.questionStarts, 'questionStarts'),
    presentMarkers: expand(p.presentMarkers, 'presentMarkers'),
    numbers: p.numbers,
    lists,
    symptoms: expand(p.symptoms, 'symptoms'),
    handoffPhrases: words(p.handoffPhrases),
    handoffWords: words(p.handoffWords),
    optOut: words(p.optOut),
    optIn: words(p.optIn),
  };
  for (const name of ['feverWords', 'temperatureUnits', 'weightUnits', 'weightGain', 'labWords']) {
    if (!lists[name]) unknownLists.push(`lists.${name} (read by the number rules)`);
  }
  if (unknownLists.length > 0) throw new Error(`SAFETY_PHRASES_FILE ${path} is not valid: no such list ${unknownLists.join(', ')}`);
  return compiled;
}

/** A phrase written as messages are read: lower case, no accents or apostrophes, single spaces; "*" kept. */
function clean(phrase: string): string {
  return phrase
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/['’‘`´]/g, '')
    .replace(/[^\p{L}\p{N}*.]+/gu, ' ')
    .trim();
}
