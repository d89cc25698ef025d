import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { countSmsSegments } from '../../src/channels/sms/count-sms-segments.ts';
import { fitSmsSegments } from '../../src/channels/sms/fit-sms-segments.ts';
import { toGsm7 } from '../../src/channels/sms/to-gsm7.ts';

const isBrokenSurrogate = (text: string) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);

// What patients' replies are made of: GSM-7 letters, extension characters, accents outside GSM-7,
// typographic punctuation, emoji, spaces, sentence ends and line breaks.
const pieces = ['a', 'b', 'Z', '7', ' ', ' ', ' ', '.', '?', '!', ',', '\n', '€', '[', 'é', 'ñ', 'á', 'ó', '’', '“', '”', '—', '…', '😀', '👍🏽', '\u00a0', 'Ω'];
const replyText = fc.string({ unit: fc.constantFrom(...pieces), maxLength: 900 });
const gsmOnly = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '.', '@', 'é', 'Ñ', '\n'), maxLength: 2000 });

describe('countSmsSegments', () => {
  it('when every character is in the GSM-7 basic table, then 160 fit in one segment and 153 in each after', () => {
    fc.assert(
      fc.property(gsmOnly, (text) => {
        const n = [...text].length;
        expect(countSmsSegments(text)).toEqual({ encoding: 'gsm7', segments: n <= 160 ? 1 : Math.ceil(n / 153) });
      }),
    );
    expect(countSmsSegments('a'.repeat(160)).segments).toBe(1);
    expect(countSmsSegments('a'.repeat(161)).segments).toBe(2);
  });

  it('when a character is from the extension table, then it costs two septets, never split between segments', () => {
    expect(countSmsSegments('€'.repeat(80))).toEqual({ encoding: 'gsm7', segments: 1 });
    expect(countSmsSegments('€'.repeat(81)).segments).toBe(2);
    // 152 + 2 + 152 septets = 306 = 2 × 153, but the euro cannot straddle the boundary: 3 segments.
    expect(countSmsSegments(`${'a'.repeat(152)}€${'a'.repeat(152)}`).segments).toBe(3);
  });

  it('when one character is outside GSM-7, then the whole message is UCS-2: 70 in one segment, 67 in each after', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ' ', 'á', '’', 'Ω'), maxLength: 900 }), (text) => {
        fc.pre(/[á’]/.test(text));
        expect(countSmsSegments(text)).toEqual({ encoding: 'ucs2', segments: text.length <= 70 ? 1 : Math.ceil(text.length / 67) });
      }),
    );
  });

  it('when an emoji would straddle two UCS-2 segments, then it moves whole to the next', () => {
    expect(countSmsSegments(`${'a'.repeat(66)}😀${'a'.repeat(2)}`).segments).toBe(1);
    // 134 code units = 2 × 67, but the surrogate pair cannot be split: 3 segments.
    expect(countSmsSegments(`${'a'.repeat(66)}😀${'a'.repeat(66)}`).segments).toBe(3);
  });

  it('when a 1,600-character reply has one curly apostrophe, then it costs 24 segments, and 11 once replaced', () => {
    const reply = `It’s ${'a'.repeat(1595)}`;
    expect(countSmsSegments(reply)).toEqual({ encoding: 'ucs2', segments: 24 });
    expect(countSmsSegments(toGsm7(reply))).toEqual({ encoding: 'gsm7', segments: 11 });
  });
});

describe('toGsm7', () => {
  it('replaces typographic punctuation and spaces with their GSM-7 forms, and leaves letters alone', () => {
    expect(toGsm7('It’s “fine” — really… • ok\u00a0now')).toBe('It\'s "fine" - really... - ok now');
    expect(toGsm7('¿Qué día empiezo? «Mañana»')).toBe('¿Qué día empiezo? "Mañana"');
  });

  it('is idempotent, and text of GSM-7 letters with typographic punctuation becomes GSM-7', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'é', ' ', '’', '‘', '“', '”', '–', '—', '…', '\u00a0', '\u200b', '«', '»', '•'), maxLength: 300 }), (text) => {
        const once = toGsm7(text);
        expect(toGsm7(once)).toBe(once);
        expect(countSmsSegments(once).encoding).toBe('gsm7');
      }),
    );
  });
});

describe('fitSmsSegments', () => {
  it('never exceeds the budget, never breaks an emoji, and keeps the start of the text', () => {
    fc.assert(
      fc.property(replyText, fc.integer({ min: 1, max: 6 }), (text, max) => {
        const fitted = fitSmsSegments(text, max);
        expect(countSmsSegments(fitted).segments).toBeLessThanOrEqual(max);
        expect(isBrokenSurrogate(fitted)).toBe(false);
        expect(text.trim().startsWith(fitted.replace(/\.\.\.$/, ''))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('returns text that fits unchanged', () => {
    fc.assert(
      fc.property(replyText, fc.integer({ min: 1, max: 6 }), (text, max) => {
        fc.pre(countSmsSegments(text.trim()).segments <= max);
        expect(fitSmsSegments(text, max)).toBe(text.trim());
      }),
    );
  });

  it('keeps the suffix whole after the cut text', () => {
    const suffix = '\n\nIf it is heavy, severe or getting worse, please call +15559999999 now.';
    fc.assert(
      fc.property(replyText, fc.integer({ min: 2, max: 6 }), (text, max) => {
        const fitted = fitSmsSegments(text, max, { suffix });
        expect(fitted.endsWith(suffix)).toBe(true);
        expect(countSmsSegments(fitted).segments).toBeLessThanOrEqual(max);
      }),
    );
  });

  it('when the text is too long, then it is cut at the end of a sentence', () => {
    const sentence = 'Your nurse will show you how to inject before your first dose. ';
    const fitted = fitSmsSegments(sentence.repeat(20), 4);
    expect(fitted.endsWith('first dose.')).toBe(true);
    expect(fitted.length).toBeGreaterThan(500);
    expect(countSmsSegments(fitted).segments).toBe(4);
  });

  it('when the first sentence alone is too long, then it is cut at a word with "..."', () => {
    const fitted = fitSmsSegments('word '.repeat(100), 1);
    expect(fitted).toMatch(/^(word )+word\.\.\.$/);
    expect(countSmsSegments(fitted).segments).toBe(1);
  });
});
