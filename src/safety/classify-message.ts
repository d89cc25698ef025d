import { normalizeText } from './normalize-text.ts';
import type { SafetyPhrases } from './load-safety-phrases.ts';

export type MessageClass =
  | { kind: 'emergency'; category: 'medical' | 'self_harm' }
  | { kind: 'opt_out' }
  | { kind: 'opt_in' }
  | { kind: 'handoff' }
  /** A question about a symptom: answered from the documents, with a nudge to call if it is severe. */
  | { kind: 'symptom_question' }
  | { kind: 'question' };

/** Filler a patient may add to a one-word request: "human please", "STOP!", "agent, thanks". */
const FILLER = new Set(['please', 'pls', 'plz', 'now', 'thanks', 'thank', 'you', 'por', 'favor', 'a', 'an', 'the', 'ok']);

/**
 * Decides, from the phrase file alone and in microseconds, what a message needs before any model is
 * asked. Safety first: an emergency wins over everything, even inside a longer question. The line
 * between an emergency and a question about a symptom is in config/safety-phrases.json.
 */
export function classifyMessage(text: string, phrases: SafetyPhrases): MessageClass {
  const normalized = normalizeText(text);
  const has = (list: string[]) => list.some((phrase) => normalized.includes(phrase));
  if (has(phrases.selfHarm)) return { kind: 'emergency', category: 'self_harm' };
  if (has(phrases.emergency)) return { kind: 'emergency', category: 'medical' };

  const words = normalized.trim().split(' ').filter((word) => word && !FILLER.has(word));
  const only = words.length === 1 ? ` ${words[0]} ` : undefined;
  if (only && phrases.optOut.includes(only)) return { kind: 'opt_out' };
  if (only && phrases.optIn.includes(only)) return { kind: 'opt_in' };
  if ((only && phrases.handoffWords.includes(only)) || has(phrases.handoffPhrases)) return { kind: 'handoff' };
  if (has(phrases.symptoms)) return { kind: 'symptom_question' };
  return { kind: 'question' };
}
