import { countSmsSegments } from './count-sms-segments.ts';

const fits = (text: string, maxSegments: number) => countSmsSegments(text).segments <= maxSegments;

/**
 * The text cut to at most `maxSegments` SMS segments, at the end of a sentence (or a paragraph); only
 * a first sentence too long on its own is cut at a word, with "...". `suffix` (a safety line such as
 * "If it is heavy, please call…") is always kept whole after the cut text. Text that fits is returned
 * as it is. The model is asked for brevity first; this is the guarantee.
 */
export function fitSmsSegments(text: string, maxSegments: number, options: { suffix?: string } = {}): string {
  if (!Number.isInteger(maxSegments) || maxSegments < 1) throw new RangeError('maxSegments must be a whole number of at least 1');
  const suffix = options.suffix ?? '';
  const body = text.trim();
  const whole = `${body}${suffix}`;
  if (fits(whole, maxSegments)) return whole;
  // A suffix that does not fit even alone is itself what gets cut.
  if (suffix && !fits(suffix.trim(), maxSegments)) return fitSmsSegments(suffix, maxSegments);

  const sentenceEnds = [...body.matchAll(/[.!?]["')\]]*(?=\s)|\n/g)].map((match) => match.index + match[0].length);
  for (const end of sentenceEnds.reverse()) {
    const candidate = `${body.slice(0, end).trimEnd()}${suffix}`;
    if (fits(candidate, maxSegments)) return candidate;
  }
  const characters = [...body];
  const wordEnds = [...body.matchAll(/\S(?=\s)/g)].map((match) => match.index + match[0].length);
  for (const end of wordEnds.reverse()) {
    const candidate = `${body.slice(0, end)}...${suffix}`;
    if (fits(candidate, maxSegments)) return candidate;
  }
  if (!fits(`...${suffix}`, maxSegments)) return suffix.trim();
  // One unbroken word longer than the budget: cut between code points, never inside a surrogate pair.
  let kept = '';
  for (const character of characters) {
    if (!fits(`${kept}${character}...${suffix}`, maxSegments)) break;
    kept += character;
  }
  return `${kept}...${suffix}`;
}
