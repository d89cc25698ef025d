import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { splitMessage, truncate } from '../../src/pipeline/split-message.ts';

const isBrokenSurrogate = (text: string) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);

describe('splitMessage', () => {
  it('when the text fits, then it is one part', () => {
    expect(splitMessage('What is IVF?', 1600)).toEqual(['What is IVF?']);
  });

  it('when there are paragraphs, then it splits between them first', () => {
    const a = 'a'.repeat(900);
    const b = 'b'.repeat(900);
    expect(splitMessage(`${a}\n\n${b}`, 1600)).toEqual([a, b]);
  });

  it('when a paragraph is too long, then it splits after a sentence', () => {
    const sentence = 'Your nurse will show you how to inject. ';
    const text = sentence.repeat(60).trim();
    const parts = splitMessage(text, 1600);
    expect(parts.length).toBe(2);
    for (const part of parts) expect(part.endsWith('inject.')).toBe(true);
  });

  it('when the cut would fall inside an emoji, then the emoji stays whole', () => {
    const text = `${'x'.repeat(9)}😀${'y'.repeat(5)}`;
    const parts = splitMessage(text, 10);
    expect(parts[0]).toBe('x'.repeat(9));
    expect(parts.join('')).toBe(text);
  });

  it('holds for any text: parts within the limit, no broken surrogate pairs, no words lost', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 3000 }), fc.integer({ min: 4, max: 400 }), (text, limit) => {
        const parts = splitMessage(text, limit);
        for (const part of parts) {
          expect(part.length).toBeLessThanOrEqual(limit);
          expect(isBrokenSurrogate(part)).toBe(false);
        }
        expect(parts.join('').replace(/\s+/g, '')).toBe(text.replace(/\s+/g, ''));
      }),
      { numRuns: 300 },
    );
  });
});

describe('truncate', () => {
  it('cuts at a word with an ellipsis, within the limit', () => {
    const cut = truncate('The egg retrieval takes about twenty minutes under sedation.', 30);
    expect(cut.length).toBeLessThanOrEqual(30);
    expect(cut).toBe('The egg retrieval takes about…');
  });
});
