import { describe, expect, it } from 'vitest';

import type { Answer } from '../../src/pipeline/answer-question.ts';
import { answerReply, saysNotCovered } from '../../src/pipeline/reply.ts';
import type { Passage } from '../../src/store/knowledge.ts';

const passage: Passage = { id: 1, source: 'ivf.md', title: 'About IVF', heading: 'What is IVF', content: 'IVF is…', score: 0.03, fullTextRank: 1, semanticRank: 1 };
const answer = (text: string, passages: Passage[], fallback: Answer['fallback'] = undefined): Answer => ({ text, passages, query: 'q', fallback, timings: {} });

describe('answerReply', () => {
  it('says what the answer was and what it rests on', () => {
    expect(answerReply(answer('IVF is…', [passage]), 'IVF is…')).toEqual({
      text: 'IVF is…', origin: 'generated', sources: [{ title: 'About IVF', heading: 'What is IVF', source: 'ivf.md' }], uncovered: false,
    });
    expect(answerReply(answer('IVF is…', [passage], 'offline'), 'IVF is…').origin).toBe('fallback');
  });

  it('marks a question as not covered when nothing was found, or when the model said the documents do not cover it', () => {
    expect(answerReply(answer('Sorry, I could not find that.', [], 'offline'), 'x').uncovered).toBe(true);
    expect(answerReply(answer("Our documents don't cover parking; please call the clinic.", [passage]), 'x').uncovered).toBe(true);
    expect(answerReply(answer('IVF means in vitro fertilisation.', [passage]), 'x').uncovered).toBe(false);
  });
});

describe('saysNotCovered', () => {
  it.each([
    "The clinic's documents don't mention the price of ICSI.",
    'I do not have information about parking in the documents.',
    'The information I have does not cover that question.',
    'No tengo información sobre eso; llame a la clínica.',
    'Los documentos de la clínica no mencionan el precio.',
  ])('recognises %j', (text) => expect(saysNotCovered(text)).toBe(true));

  it.each([
    'IVF does not always work the first time; the documents explain the success rates.',
    'You do not have to fast before the scan.',
    'No, no necesita ayunar.',
  ])('does not flag %j', (text) => expect(saysNotCovered(text)).toBe(false));
});
