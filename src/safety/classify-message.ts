import { normalizeText } from './normalize-text.ts';
import type { SafetyPhrases } from './load-safety-phrases.ts';
import { recogniseEmergency } from './recognise-emergency.ts';

export type MessageClass =
  /** `rule` names what raised the alarm (never the patient's words), for the logs. */
  | { kind: 'emergency'; category: 'medical' | 'self_harm'; rule: string }
  | { kind: 'opt_out' }
  /** `keyword` so that "yes" opts in only someone who opted out, where it is Twilio's opt-in word too. */
  | { kind: 'opt_in'; keyword: string }
  | { kind: 'handoff' }
  /** A question about a symptom: answered from the documents, with a nudge to call if it is severe. */
  | { kind: 'symptom_question' }
  | { kind: 'question' };

/** Filler a patient may add to a one-word request: "human please", "STOP!", "agent, thanks". */
const FILLER = new Set(['please', 'pls', 'plz', 'now', 'thanks', 'thank', 'you', 'por', 'favor', 'a', 'an', 'the', 'ok']);

/**
 * Decides, from the clinic's safety rules alone and in well under a millisecond, what a message
 * needs before any model is asked. Safety first: an emergency wins over everything, even inside a
 * longer question (src/safety/recognise-emergency.ts reads it; config/safety-phrases.json says what
 * counts).
 */
export function classifyMessage(text: string, phrases: SafetyPhrases): MessageClass {
  const recognised = recogniseEmergency(text, phrases);
  if (recognised.alarm) return { kind: 'emergency', ...recognised.alarm };

  const normalized = normalizeText(text);
  const words = normalized.trim().split(' ').filter((word) => word && !FILLER.has(word));
  const only = words.length === 1 ? ` ${words[0]} ` : undefined;
  if (only && phrases.optOut.includes(only)) return { kind: 'opt_out' };
  if (only && phrases.optIn.includes(only)) return { kind: 'opt_in', keyword: only.trim() };
  if ((only && phrases.handoffWords.includes(only)) || phrases.handoffPhrases.some((phrase) => normalized.includes(phrase))) return { kind: 'handoff' };
  if (recognised.symptom) return { kind: 'symptom_question' };
  return { kind: 'question' };
}
