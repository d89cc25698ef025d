import { z } from 'zod';

import { markdownTable } from '../bench/markdown-table.ts';
import { detectLanguage } from '../src/language/detect-language.ts';
import type { Languages } from '../src/language/load-languages.ts';
import { readJsonLines } from './read-json-lines.ts';

/** `none`: a message that says nothing about its language ("ok", "👍"): the detector must not guess. */
const rowSchema = z.object({ text: z.string().min(1), lang: z.string().regex(/^([a-z]{2}|none)$/), kind: z.string().optional() });
export type LanguageSample = z.infer<typeof rowSchema>;

export type LanguageResult = {
  table: { lang: string; messages: number; right: number }[];
  accuracy: number;
  misses: { row: LanguageSample; got: string }[];
};

export function readLanguageSet(path: string): LanguageSample[] {
  return readJsonLines(path, rowSchema);
}

export function evaluateLanguage(rows: LanguageSample[], languages?: Languages): LanguageResult {
  const results = rows.map((row) => ({ row, got: detectLanguage(row.text, languages) ?? 'none' }));
  const codes = [...new Set(rows.map((row) => row.lang))];
  const table = [...codes, 'all'].map((lang) => {
    const these = results.filter((r) => lang === 'all' || r.row.lang === lang);
    return { lang, messages: these.length, right: these.filter((r) => r.got === r.row.lang).length };
  });
  const all = table.at(-1)!;
  return { table, accuracy: all.messages === 0 ? 1 : all.right / all.messages, misses: results.filter((r) => r.got !== r.row.lang) };
}

const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

/** The table, the accuracy and every miss, as `npm run eval:language` prints them. */
export function formatLanguageReport(result: LanguageResult): string {
  const table = markdownTable(
    ['language', 'messages', 'detected right', 'share'],
    result.table.map((row) => [row.lang, String(row.messages), String(row.right), percent(row.right / row.messages)]),
  );
  const misses = result.misses.map(({ row, got }) => `- [${row.lang}${row.kind ? `, ${row.kind}` : ''}] got ${got}: ${JSON.stringify(row.text)}`);
  return [table, '', `Accuracy: ${percent(result.accuracy)}`, '', misses.length === 0 ? 'No misses.' : `Misses (${misses.length}):\n${misses.join('\n')}`].join('\n');
}
