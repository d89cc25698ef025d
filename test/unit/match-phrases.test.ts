import { describe, expect, it } from 'vitest';

import { compilePhrase, findPhrases, type Phrase } from '../../src/safety/match-phrases.ts';
import { readWords } from '../../src/safety/read-words.ts';

const read = (text: string) => readWords(text, { spelling: new Map(), clauseBreaks: new Set(['but']) });
const NO_FILLERS = new Set<string>();

/** Many phrases, as the shipped lists have: the one that should match must be found among them. */
function phraseList(...wanted: string[]): Phrase[] {
  const others = Array.from({ length: 600 }, (_, n) => `${['swelling', 'vomiting', 'shortness', 'dizziness', 'palpitation*'][n % 5]}${n} sign${n}`);
  return [...others, ...wanted].map(compilePhrase);
}

describe('findPhrases forgives one slip of the keyboard in a long first word', () => {
  const phrases = phraseList('haemorrhaging heavily', 'excruciat* pain', 'breathing problems');
  const find = (text: string, exact = false) => findPhrases(read(text), phrases, NO_FILLERS, exact);

  it.each([
    ['as written', 'haemorrhaging heavily'],
    ['a letter changed', 'haemorrhoging heavily'],
    ['a letter missing', 'haemorrhging heavily'],
    ['a letter added', 'haemorrhaaging heavily'],
    ['two letters swapped', 'haemorrahging heavily'],
    ['a letter missing near the start', 'hemorrhaging heavily'],
    ['a prefix pattern, a letter changed', 'excrutiating pain'],
    ['a prefix pattern, two letters swapped', 'excurciating pain'],
    ['a prefix pattern, a letter added', 'exccruciating pain'],
    ['two letters swapped in a whole word', 'breahting problems'],
  ])('when the message has the phrase %s (%s), then it is found', (_how, text) => {
    expect(find(text)).toHaveLength(1);
  });

  it.each([
    ['two slips', 'hemorhaging heavily'],
    ['a slip in an exact search', 'haemorrhoging heavily', true],
    ['a number in the word', 'haemorrhag1ng heavily'],
    ['a prefix pattern two letters short', 'excruci pain'],
  ] as [string, string, boolean?][])('when the message has %s (%s), then nothing is found', (_how, text, exact = false) => {
    expect(find(text, exact)).toEqual([]);
  });
});
