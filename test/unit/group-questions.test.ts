import { describe, expect, it } from 'vitest';

import { groupQuestions, topicWords } from '../../src/staff/group-questions.ts';

const q = (id: number, text: string) => ({ id, conversationId: id, at: new Date(2026, 0, id).toISOString(), text });

describe('groupQuestions', () => {
  it('puts questions about the same thing together, largest group first, whatever their wording, case or accents', () => {
    const groups = groupQuestions([
      q(1, 'Do you offer egg freezing?'),
      q(2, 'How much does ICSI cost?'),
      q(3, 'what does icsi cost at your clinic'),
      q(4, 'Is there parking at the clinic?'),
      q(5, 'ICSI cost please'),
      q(6, '¿Ofrecen congelación de óvulos?'),
      q(7, 'ofrecen congelacion de ovulos'),
    ]);
    expect(groups.map((group) => group.questions.map((question) => question.id))).toEqual([[2, 3, 5], [6, 7], [1], [4]]);
    expect(groups[0]).toMatchObject({ count: 3, example: 'How much does ICSI cost?' });
    expect(groups[0]!.keywords.slice(0, 2).sort()).toEqual(['cost', 'icsi']);
  });

  it('keeps apart questions that share only small words', () => {
    const groups = groupQuestions([q(1, 'What is the success rate of IVF?'), q(2, 'What is the address of the clinic?')]);
    expect(groups).toHaveLength(2);
  });

  it('reads topic words without stopwords, plurals or accents', () => {
    expect([...topicWords('Where are the injections?')]).toEqual(['injection']);
    expect([...topicWords('¿Cuándo empiezo las inyecciones?')]).toEqual(['empiezo', 'inyeccion']);
  });
});
