import { z } from 'zod';

import { markdownTable } from '../bench/markdown-table.ts';
import type { Passage } from '../src/store/knowledge.ts';
import { readJsonLines } from './read-json-lines.ts';

/** `source`: the document that answers the question, as the knowledge base keys it (`knowledge/ohss.md`). */
const rowSchema = z.object({ question: z.string().min(1), source: z.string().min(1), lang: z.string().regex(/^[a-z]{2}$/), kind: z.string().optional() });
export type RetrievalQuestion = z.infer<typeof rowSchema>;

/** The passages a search returns for a question, best first. */
export type Search = (question: string) => Promise<Pick<Passage, 'source'>[]>;

export type RetrievalFigures = { questions: number; hitAt1: number; hitAt3: number; mrr: number };

export type RetrievalMiss = { row: RetrievalQuestion; rank: number | undefined; first: string | undefined };

export type RetrievalResult = {
  /** Per language, then `all`. */
  table: ({ lang: string } & RetrievalFigures)[];
  overall: RetrievalFigures;
  /** Every question whose document did not come first. */
  misses: RetrievalMiss[];
};

/**
 * The bar `npm run eval:retrieval` exits 1 under, overall: the figures measured offline (full-text
 * search) on knowledge/ with eval/retrieval.jsonl, hit@3 63.7 % and MRR 0.598, less about two questions.
 */
export const RETRIEVAL_BAR = { hitAt3: 0.6, mrr: 0.57 };

export function meetsRetrievalBar(figures: RetrievalFigures): boolean {
  return figures.hitAt3 >= RETRIEVAL_BAR.hitAt3 && figures.mrr >= RETRIEVAL_BAR.mrr;
}

/** The retrieval set: one JSON object a line, `{ question, source, lang, kind? }`. */
export function readRetrievalSet(path: string): RetrievalQuestion[] {
  return readJsonLines(path, rowSchema);
}

/**
 * Ranks documents, not passages: a document's rank is where its first passage comes among the
 * documents of the passages returned (the ones the model would see). Absent, it scores 0 in MRR.
 */
export async function evaluateRetrieval(rows: RetrievalQuestion[], search: Search): Promise<RetrievalResult> {
  const results: { row: RetrievalQuestion; rank: number | undefined; first: string | undefined }[] = [];
  for (const row of rows) {
    const documents = [...new Set((await search(row.question)).map((passage) => passage.source))];
    const index = documents.indexOf(row.source);
    results.push({ row, rank: index === -1 ? undefined : index + 1, first: documents[0] });
  }
  const figures = (these: typeof results): RetrievalFigures => {
    const share = (test: (rank: number) => boolean) => (these.length === 0 ? 0 : these.filter((r) => r.rank !== undefined && test(r.rank)).length / these.length);
    const mrr = these.length === 0 ? 0 : these.reduce((sum, r) => sum + (r.rank === undefined ? 0 : 1 / r.rank), 0) / these.length;
    return { questions: these.length, hitAt1: share((rank) => rank === 1), hitAt3: share((rank) => rank <= 3), mrr };
  };
  const languages = [...new Set(rows.map((row) => row.lang))];
  const overall = figures(results);
  return {
    table: [...languages.map((lang) => ({ lang, ...figures(results.filter((r) => r.row.lang === lang)) })), { lang: 'all', ...overall }],
    overall,
    misses: results.filter((r) => r.rank !== 1),
  };
}

const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

/** The table and every miss, as `npm run eval:retrieval` prints them for one kind of search. */
export function formatRetrievalReport(result: RetrievalResult): string {
  const table = markdownTable(
    ['language', 'questions', 'hit@1', 'hit@3', 'MRR'],
    result.table.map((row) => [row.lang, String(row.questions), percent(row.hitAt1), percent(row.hitAt3), row.mrr.toFixed(3)]),
  );
  const misses = result.misses.map(({ row, rank, first }) => {
    const where = rank === undefined ? 'not found' : `at ${rank}`;
    return `- [${row.lang}${row.kind ? `, ${row.kind}` : ''}] ${JSON.stringify(row.question)}: expected ${row.source} (${where}), first ${first ?? 'nothing'}`;
  });
  return [table, '', misses.length === 0 ? 'No misses.' : `Misses (${misses.length}):\n${misses.join('\n')}`].join('\n');
}
