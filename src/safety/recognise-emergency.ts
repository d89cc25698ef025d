import type { Combination, SafetyPhrases } from './load-safety-phrases.ts';
import { findPhrases, type Match, type Phrase } from './match-phrases.ts';
import { readNumbers } from './read-numbers.ts';
import { readWords, type ReadMessage } from './read-words.ts';

export type Alarm = { category: 'medical' | 'self_harm'; rule: string };

/** What the rules make of a message: an alarm, or whether it speaks of a symptom at all. */
export type Recognition = { alarm: Alarm | undefined; symptom: boolean };

/** How far back a "not" reaches: "not bleeding heavily", "no heavy bleeding", "I didn't pass out". */
const NEGATION_REACH = 3;

/**
 * Recognises an emergency or a risk of self-harm in a patient's own words, offline, deterministically
 * and in well under a millisecond, from the clinic's rules (config/safety-phrases.json):
 * 1. risk of self-harm (red flags; never cancelled by a "not": too costly to get wrong);
 * 2. medical red flags that alarm alone ("I feel faint", "cant breathe");
 * 3. combinations of a symptom with a severity or a second sign near it ("the bleeding is really
 *    heavy", "one-sided pain" with "positive test");
 * 4. numbers: fever at or above the line, fast weight gain.
 * Idioms and IVF vocabulary ("dying to know", "faint line", "blood test") are masked first. A medical
 * finding is dropped when it is negated, hypothetical ("what if the bleeding gets heavy") or a general
 * question with nothing about the patient now ("is heavy bleeding normal?"): that is a symptom
 * question, answered with the nudge to call.
 */
export function recogniseEmergency(text: string, rules: SafetyPhrases): Recognition {
  const message = readWords(text, rules);
  const find = (phrases: Phrase[], exact = false) => findPhrases(message, phrases, rules.fillers, exact);
  const masked = new Set<number>();
  for (const match of find(rules.exceptions, true)) for (let i = match.start; i <= match.end; i++) masked.add(i);
  const usable = (matches: Match[]) => matches.filter((match) => !match.matched.some((index) => masked.has(index)));

  const selfHarm = usable(find(rules.redFlags.selfHarm))[0];
  if (selfHarm) return { alarm: { category: 'self_harm', rule: 'self-harm red flag' }, symptom: true };

  const context = readContext(message, rules, (phrases) => usable(find(phrases, true)));
  const stands = (match: Match) => !context.negated(match) && !context.hypothetical(match) && !context.generalQuestion(match);
  const symptom = usable(find(rules.symptoms)).length > 0;
  const alarm = (rule: string): Recognition => ({ alarm: { category: 'medical', rule }, symptom: true });

  if (usable(find(rules.redFlags.medical)).some(stands)) return alarm('medical red flag');

  const cache = new Map<Phrase[], Match[]>();
  const matchesOf = (phrases: Phrase[]) => {
    let matches = cache.get(phrases);
    if (!matches) cache.set(phrases, (matches = usable(find(phrases))));
    return matches;
  };
  for (const combination of selfHarmFirst(rules.combinations)) {
    if (!combination.anywhere.every((list) => matchesOf(list).length > 0)) continue;
    // Lists are searched only until one is empty: most messages hold no word of most lists.
    const near: Match[][] = [];
    for (const list of combination.near) {
      const matches = matchesOf(list);
      if (matches.length === 0) break;
      near.push(matches);
    }
    if (near.length < combination.near.length) continue;
    const found = nearEachOther(near, combination.within);
    if (combination.category === 'self_harm' && found.length > 0) return { alarm: { category: 'self_harm', rule: combination.name }, symptom: true };
    if (found.some(stands)) return alarm(combination.name);
  }

  const numbers = readNumbers(message, rules, (name) => matchesOf(rules.lists[name]!));
  const number = numbers.find((finding) => !finding.matched.some((index) => masked.has(index)) && stands(finding));
  if (number) return alarm(number.rule);

  return { alarm: undefined, symptom };
}

const ordered = new WeakMap<Combination[], Combination[]>();

/** Self-harm combinations first, and never cancelled by a "not" or a question: too costly to get wrong. */
function selfHarmFirst(combinations: Combination[]): Combination[] {
  let sorted = ordered.get(combinations);
  if (!sorted) ordered.set(combinations, (sorted = [...combinations].sort((a, b) => Number(b.category === 'self_harm') - Number(a.category === 'self_harm'))));
  return sorted;
}

/**
 * Whether a finding is negated, hypothetical, or part of a general question. Each list is searched the
 * first time it is needed: most messages have no finding to weigh.
 */
function readContext(message: ReadMessage, rules: SafetyPhrases, find: (phrases: Phrase[]) => Match[]) {
  const lazily = (phrases: Phrase[]) => {
    let matches: Match[] | undefined;
    return () => (matches ??= find(phrases));
  };
  const negators = lazily(rules.negators);
  const hypotheticals = lazily(rules.hypothetical);
  const questionStarts = lazily(rules.questionStarts);
  const presentMarkers = lazily(rules.presentMarkers);
  const { words, clauses } = message;
  return {
    /** A "not" just before the finding or inside it, that is not one of its own words ("cant breathe"). */
    negated(match: Match) {
      return negators().some(
        (negator) =>
          negator.clause === match.clause &&
          negator.start >= match.start - NEGATION_REACH &&
          negator.end <= match.end &&
          !negator.matched.some((index) => match.matched.includes(index)),
      );
    },
    /** An "if" earlier in the same piece of the sentence: "what should I do if I get heavy bleeding". */
    hypothetical(match: Match) {
      const segment = words[match.start]!.segment;
      return hypotheticals().some((cue) => cue.end < match.start && words[cue.start]!.segment === segment && cue.clause === match.clause);
    },
    /** A question (a "?" or a question word first) that says nothing of the patient now ("is heavy bleeding normal?"). */
    generalQuestion(match: Match) {
      const clause = clauses[match.clause];
      if (!clause) return false;
      // Only a question word first: patients end statements with "?" too ("a lot of blood, is this a miscarriage?").
      return questionStarts().some((start) => start.start === clause.start) && !presentMarkers().some((marker) => marker.clause === match.clause);
    },
  };
}

/**
 * One match from each list, all in one sentence and starting within `within` words of each other,
 * as a single finding spanning them.
 */
function nearEachOther(lists: Match[][], within: number): Match[] {
  const found: Match[] = [];
  const pick = (index: number, chosen: Match[]) => {
    if (index === lists.length) {
      const starts = chosen.map((m) => m.start);
      if (Math.max(...starts) - Math.min(...starts) > within) return;
      found.push({
        start: Math.min(...starts),
        end: Math.max(...chosen.map((m) => m.end)),
        clause: chosen[0]!.clause,
        matched: [...new Set(chosen.flatMap((m) => m.matched))],
      });
      return;
    }
    for (const match of lists[index]!) {
      // Pruned while picking, not at the end: a long message full of matches would otherwise build
      // every combination (seconds of a blocked event loop for a 4 KB WhatsApp message).
      if (chosen.length > 0 && (match.clause !== chosen[0]!.clause || chosen.some((m) => Math.abs(m.start - match.start) > within))) continue;
      pick(index + 1, [...chosen, match]);
    }
  };
  pick(0, []);
  return found;
}
