import { classifyMessage } from './classify-message.ts';
import type { SafetyPhrases } from './load-safety-phrases.ts';
import type { Phrase } from './match-phrases.ts';

/** Messages that take the recogniser's other paths: numbers, a plain question, a request for a person. */
const SAMPLES = ['I have a fever of 38,9 since last night', 'I gained 3 kg in 2 days', 'What is IVF?', 'can I talk to a person please'];

/**
 * Reads every phrase of the clinic's rules once, as if a patient had written it, so that each list's
 * index is built and the recogniser's code compiled now, before /readyz says ready: the first webhooks
 * after a restart otherwise paid for it (the first one held the main thread 14 ms, more than the
 * acknowledgement's whole budget; BENCHMARKS.md, table 9). About a quarter of a second, once.
 */
export function warmUpClassifier(phrases: SafetyPhrases): void {
  const lists: Phrase[][] = [
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
  ];
  const texts = new Set(SAMPLES);
  for (const list of lists) for (const phrase of list) texts.add(phrase.source.replaceAll('*', ''));
  for (const text of texts) classifyMessage(text, phrases);
}
