import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { evaluateLanguage, formatLanguageReport, readLanguageSet } from '../../eval/evaluate-language.ts';
import { readLabelledSet } from '../../eval/evaluate-triage.ts';
import { detectLanguage } from '../../src/language/detect-language.ts';
import { loadLanguages, shippedLanguages } from '../../src/language/load-languages.ts';

const set = readLanguageSet(fileURLToPath(new URL('../../eval/language.jsonl', import.meta.url)));

describe('the language detector on the labelled set (eval/language.jsonl, npm run eval:language)', () => {
  it('when the set is read, then it has at least 100 messages, 40 in each language and some with no evidence', () => {
    expect(set.length).toBeGreaterThanOrEqual(100);
    for (const lang of ['en', 'es']) expect(set.filter((row) => row.lang === lang).length, lang).toBeGreaterThanOrEqual(40);
    expect(set.filter((row) => row.lang === 'none').length).toBeGreaterThanOrEqual(3);
  });

  it('when the shipped rules read it, then at least 95 % are right', () => {
    const result = evaluateLanguage(set);
    expect(result.accuracy, formatLanguageReport(result)).toBeGreaterThanOrEqual(0.95);
  });

  it('when they read the triage set, written apart from these rules, then at least 95 % are right too', () => {
    const triage = readLabelledSet(fileURLToPath(new URL('../../eval/triage.jsonl', import.meta.url)));
    const result = evaluateLanguage(triage.map((row) => ({ text: row.text, lang: row.lang })));
    expect(result.accuracy, formatLanguageReport(result)).toBeGreaterThanOrEqual(0.95);
  });

  it('when Spanish loses its word list, then the evaluation notices (the bar can fail)', () => {
    const shipped = shippedLanguages();
    const spanish = shipped.byCode.get('es')!;
    const weakened = { ...shipped, byCode: new Map([...shipped.byCode, ['es', { ...spanish, words: new Set<string>() }]]) };
    const result = evaluateLanguage(set, weakened);
    expect(result.accuracy).toBeLessThan(0.95);
    expect(formatLanguageReport(result)).toMatch(/Misses \(\d+\):\n(.*\n)*- \[es/);
  });
});

describe('detectLanguage', () => {
  it('reads Spanish typed without accents or opening marks, and English without apostrophes', () => {
    expect(detectLanguage('cuando empiezo con las inyecciones')).toBe('es');
    expect(detectLanguage('¿Cuándo?')).toBe('es');
    expect(detectLanguage('whens my next scan')).toBe('en');
  });

  it('when a message gives no evidence, then it says so rather than guess', () => {
    for (const text of ['ok', '👍', 'IVF?', '']) expect(detectLanguage(text), text).toBeUndefined();
  });
});

describe('loadLanguages', () => {
  it('when the file is broken, then the error names the path and the field', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'languages-')), 'languages.json');
    writeFileSync(path, JSON.stringify({ fallback: 'en', languages: { en: { name: 'English', textSearch: 'English!', characters: '', endings: [], words: ['the'] } } }));
    expect(() => loadLanguages(path)).toThrow(new RegExp(`${path}: languages.en.textSearch`));
    writeFileSync(path, JSON.stringify({ fallback: 'fr', languages: { en: { name: 'English', textSearch: 'english', characters: '', endings: [], words: ['the'] } } }));
    expect(() => loadLanguages(path)).toThrow(/fallback: "fr" is not one of the languages/);
  });
});
