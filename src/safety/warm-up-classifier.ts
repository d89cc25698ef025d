import { classifyMessage } from './classify-message.ts';
import type { SafetyPhrases } from './load-safety-phrases.ts';
import { indexPhraseLists, type Phrase } from './match-phrases.ts';

/** Messages that take the recogniser's main paths: a plain question, an emergency, a number. */
const SAMPLES = ['When do I start my injections?', 'I am bleeding heavily and I feel faint', 'I have a fever of 38,9'];
const ROUNDS = 10;

/**
 * Builds the indexes of the clinic's rules now, and has V8 compile the recogniser's code on a few
 * messages, before /readyz says ready: the first webhooks after a restart otherwise paid for it (the
 * first one held the main thread 14 ms, more than the acknowledgement's whole budget; BENCHMARKS.md,
 * table 9). A few milliseconds, once. Reading every rule phrase as a message warmed more, but grew the
 * resident memory by 20 MB, past the idle target (table 7).
 */
export function warmUpClassifier(phrases: SafetyPhrases): void {
  indexPhraseLists([
    phrases.redFlags.medical,
    phrases.redFlags.selfHarm,
    phrases.exceptions,
    phrases.negators,
    phrases.hypothetical,
    phrases.questionStarts,
    phrases.presentMarkers,
    phrases.symptoms,
    ...Object.values(phrases.lists),
    ...phrases.combinations.flatMap((combination) => [...combination.near, ...combination.anywhere]),
  ]);
  for (let round = 0; round < ROUNDS; round++) for (const text of SAMPLES) classifyMessage(text, phrases);
}
