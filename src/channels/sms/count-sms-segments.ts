import { gsm7Septets } from './gsm7-alphabet.ts';

export type SmsEncoding = 'gsm7' | 'ucs2';

export type SmsSize = { encoding: SmsEncoding; segments: number };

/**
 * How many segments an SMS body is billed as. GSM-7: 160 septets in one segment, else 153 a segment
 * (the rest of each is the concatenation header), an extension character costing two septets that are
 * never split between segments. UCS-2: 70 UTF-16 code units in one, else 67 a segment, a surrogate
 * pair (an emoji) never split between segments.
 */
export function countSmsSegments(body: string): SmsSize {
  const costs: number[] = [];
  let gsm7 = true;
  for (const character of body) {
    const septets = gsm7Septets(character);
    if (septets === undefined) {
      gsm7 = false;
      break;
    }
    costs.push(septets);
  }
  if (!gsm7) {
    costs.length = 0;
    for (const character of body) costs.push(character.length);
  }
  const [single, multi] = gsm7 ? [160, 153] : [70, 67];
  const total = costs.reduce((sum, cost) => sum + cost, 0);
  if (total <= single) return { encoding: gsm7 ? 'gsm7' : 'ucs2', segments: 1 };
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > multi) {
      segments++;
      used = 0;
    }
    used += cost;
  }
  return { encoding: gsm7 ? 'gsm7' : 'ucs2', segments };
}

/** About how many characters fit in `segments` segments of an encoding. */
export function smsCharacters(segments: number, encoding: SmsEncoding): number {
  if (encoding === 'gsm7') return segments === 1 ? 160 : segments * 153;
  return segments === 1 ? 70 : segments * 67;
}
