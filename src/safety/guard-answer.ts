import type { Passage } from '../store/knowledge.ts';
import { normalizeText } from './normalize-text.ts';

export type GuardProblem = 'reveals_instructions' | 'unsupported_dose';

/**
 * Checks a generated answer before a patient sees it. The prompt already asks the model to keep its
 * rules to itself and to take doses only from the documents; this catches the answers where it did not:
 * - it repeats a line of the instructions (a prompt-injection that worked);
 * - it names a dose (a number with a unit: mg, IU, ml, mcg, units) that no retrieved document contains.
 */
export function guardAnswer(answer: string, context: { instructions: string; passages: Passage[] }): GuardProblem | undefined {
  const said = normalizeText(answer);
  const instructionLines = context.instructions
    .split('\n')
    .map((line) => normalizeText(line.replace(/^\d+\.\s*/, '')))
    .filter((line) => line.length > 40);
  if (instructionLines.some((line) => said.includes(line.slice(0, 60)))) return 'reveals_instructions';

  const documents = normalizeText(context.passages.map((passage) => passage.content).join('\n'));
  for (const dose of doses(answer)) {
    if (!documents.includes(dose)) return 'unsupported_dose';
  }
  return undefined;
}

const DOSE = /(\d+(?:[.,]\d+)?)\s*(mg|milligrams?|mcg|micrograms?|µg|iu|ui|units?|ml|millilit(?:er|re)s?|cc)\b/giu;

/** "Take 150 IU" → " 150 iu ": the dose as it would appear, normalized, in a document. */
function doses(text: string): string[] {
  return [...text.matchAll(DOSE)].map((match) => normalizeText(`${match[1]} ${match[2]}`));
}
