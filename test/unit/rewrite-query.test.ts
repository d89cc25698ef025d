import { describe, expect, it } from 'vitest';

import { looksLikeFollowUp, offlineFollowUpQuery } from '../../src/pipeline/rewrite-query.ts';

describe('looksLikeFollowUp', () => {
  it.each([
    'does it hurt?',
    'How much does that cost?',
    'Is this normal?',
    'and ICSI?',
    'So when do I stop?',
    'What about frozen embryos?',
    'why?',
    'how long?',
    'hi\nand the price?',
    '¿Y cuánto cuesta eso?',
  ])('when a message leans on the conversation (%s), then it is rewritten', (message) => {
    expect(looksLikeFollowUp(message)).toBe(true);
  });

  it.each([
    'What is IVF?',
    'When do I start my injections?',
    'Is spotting normal after my embryo transfer?',
    'What are the warning signs of OHSS?',
    'How much does a cycle cost?',
    '¿Cuándo empiezo las inyecciones?',
  ])('when a message names its own subject (%s), then it is searched as written', (message) => {
    expect(looksLikeFollowUp(message)).toBe(false);
  });
});

describe('offlineFollowUpQuery', () => {
  it('when offline, then a follow-up is searched together with the previous question', () => {
    const history = [
      { role: 'user' as const, content: 'What happens at egg retrieval?' },
      { role: 'assistant' as const, content: 'It takes twenty minutes.' },
    ];
    expect(offlineFollowUpQuery('does it hurt?', history)).toBe('What happens at egg retrieval?\ndoes it hurt?');
  });
});
