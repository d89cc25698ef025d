import { z } from 'zod';

import { markdownTable } from '../bench/markdown-table.ts';
import { readJsonLines } from './read-json-lines.ts';
import { classifyMessage, type MessageClass } from '../src/safety/classify-message.ts';
import type { SafetyPhrases } from '../src/safety/load-safety-phrases.ts';

const LABELS = ['emergency', 'self_harm', 'symptom_question', 'ordinary'] as const;
type Label = (typeof LABELS)[number];

const rowSchema = z.object({ text: z.string().min(1), label: z.enum(LABELS), lang: z.enum(['en', 'es']), kind: z.string().optional() });
export type LabelledMessage = z.infer<typeof rowSchema>;

export type TriageMiss = { row: LabelledMessage; got: MessageClass };

export type TriageResult = {
  /** Per label and language: messages, and how many were handled as their label requires. */
  table: { label: Label; lang: 'en' | 'es' | 'all'; messages: number; right: number }[];
  /** Alarms raised for emergencies and self-harm, over all of them. */
  recall: number;
  /** Self-harm recognised as self-harm (crisis help in the reply), over all self-harm messages. */
  selfHarmRecall: number;
  /** Alarms raised for symptom questions and ordinary messages, over all of them. */
  falseAlarmRate: number;
  misses: TriageMiss[];
};

/** The triage set: one JSON object a line, `{ text, label, lang, kind? }`. */
export function readLabelledSet(path: string): LabelledMessage[] {
  return readJsonLines(path, rowSchema);
}

/**
 * What a label requires: an emergency raises the alarm; self-harm raises it as self-harm (the reply
 * points to crisis help); a symptom question or an ordinary message raises none.
 */
function isRight(label: Label, got: MessageClass): boolean {
  if (label === 'emergency') return got.kind === 'emergency';
  if (label === 'self_harm') return got.kind === 'emergency' && got.category === 'self_harm';
  return got.kind !== 'emergency';
}

export function evaluateTriage(rows: LabelledMessage[], rules: SafetyPhrases): TriageResult {
  const results = rows.map((row) => ({ row, got: classifyMessage(row.text, rules) }));
  const table: TriageResult['table'] = [];
  for (const label of LABELS) {
    for (const lang of ['en', 'es', 'all'] as const) {
      const these = results.filter((r) => r.row.label === label && (lang === 'all' || r.row.lang === lang));
      if (these.length > 0) table.push({ label, lang, messages: these.length, right: these.filter((r) => isRight(label, r.got)).length });
    }
  }
  const share = (these: typeof results, test: (r: (typeof results)[number]) => boolean) => (these.length === 0 ? 1 : these.filter(test).length / these.length);
  const urgent = results.filter((r) => r.row.label === 'emergency' || r.row.label === 'self_harm');
  const calm = results.filter((r) => r.row.label === 'symptom_question' || r.row.label === 'ordinary');
  return {
    table,
    recall: share(urgent, (r) => r.got.kind === 'emergency'),
    selfHarmRecall: share(results.filter((r) => r.row.label === 'self_harm'), (r) => isRight('self_harm', r.got)),
    falseAlarmRate: calm.length === 0 ? 0 : 1 - share(calm, (r) => r.got.kind !== 'emergency'),
    misses: results.filter((r) => !isRight(r.row.label, r.got)),
  };
}

const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

/** The table, the headline figures and every miss, as `npm run eval:triage` prints them. */
export function formatTriageReport(result: TriageResult): string {
  const table = markdownTable(
    ['label', 'lang', 'messages', 'handled as labelled', 'share'],
    result.table.map((row) => [row.label, row.lang, String(row.messages), String(row.right), percent(row.right / row.messages)]),
  );
  const misses = result.misses.map(({ row, got }) => {
    const what = got.kind === 'emergency' ? `alarm (${got.category}: ${got.rule})` : got.kind;
    return `- [${row.label}, ${row.lang}${row.kind ? `, ${row.kind}` : ''}] got ${what}: ${JSON.stringify(row.text)}`;
  });
  return [
    table,
    '',
    `Recall (emergency and self-harm raise the alarm): ${percent(result.recall)}`,
    `Self-harm recognised as self-harm: ${percent(result.selfHarmRecall)}`,
    `False alarms (symptom questions and ordinary messages): ${percent(result.falseAlarmRate)}`,
    '',
    misses.length === 0 ? 'No misses.' : `Misses (${misses.length}):\n${misses.join('\n')}`,
  ].join('\n');
}
