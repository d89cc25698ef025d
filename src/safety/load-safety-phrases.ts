import { readFileSync } from 'node:fs';

import { z } from 'zod';

import { normalizeText } from './normalize-text.ts';

const phraseList = z.array(z.string().trim().min(1)).min(1);

const schema = z.object({
  emergency: phraseList,
  selfHarm: phraseList,
  symptoms: phraseList,
  handoffPhrases: phraseList,
  handoffWords: phraseList,
  optOut: phraseList,
  optIn: phraseList,
});

export type SafetyPhrases = z.infer<typeof schema>;

/**
 * Reads the clinic's editable phrase file (config/safety-phrases.json) once at start. A broken file
 * stops the start with its path and the field at fault: the emergency net must not silently be empty.
 */
export function loadSafetyPhrases(path: string): SafetyPhrases {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`SAFETY_PHRASES_FILE ${path} could not be read as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`).join('; ');
    throw new Error(`SAFETY_PHRASES_FILE ${path} is not valid: ${problems}`);
  }
  const normalize = (list: string[]) => [...new Set(list.map((phrase) => normalizeText(phrase)))];
  const p = parsed.data;
  return {
    emergency: normalize(p.emergency),
    selfHarm: normalize(p.selfHarm),
    symptoms: normalize(p.symptoms),
    handoffPhrases: normalize(p.handoffPhrases),
    handoffWords: normalize(p.handoffWords),
    optOut: normalize(p.optOut),
    optIn: normalize(p.optIn),
  };
}
