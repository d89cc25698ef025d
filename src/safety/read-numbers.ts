import type { Match } from './match-phrases.ts';
import type { SafetyPhrases } from './load-safety-phrases.ts';
import type { ReadMessage } from './read-words.ts';

/** What the number rules found: a fever or a fast weight gain, with the words it rests on. */
export type NumberFinding = Match & { rule: string };

const WORD_NUMBERS: Record<string, number> = {
  a: 1, an: 1, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, couple: 2,
  un: 1, uno: 1, una: 1, dos: 2, tres: 3, cuatro: 4, cinco: 5, seis: 6, siete: 7,
};
const DAY_WORDS = new Set(['day', 'days', 'dia', 'dias']);
const HOUR_WORDS = new Set(['hour', 'hours', 'hrs', 'hr', 'h', 'hora', 'horas']);
const WEEK_WORDS = new Set(['week', 'weeks', 'wk', 'wks', 'semana', 'semanas']);
const ONE_DAY_WORDS = new Set(['overnight', 'yesterday', 'today', 'ayer', 'hoy', 'anoche', 'manana']);
const HALF = [['y', 'medio'], ['and', 'a', 'half'], ['y', 'media']];
const DECIMAL_WORDS = new Set(['point', 'punto', 'coma', 'con']);

/**
 * Temperatures at or above the fever line and weight gained faster than the OHSS line, in the shapes
 * patients write them: "fever 38.6", "temp is 101.5", "fiebre de 39", "38 y medio", "38°C",
 * "gained 3 kg in two days", "up 2lbs overnight". A temperature needs a fever word nearby or a degree
 * unit; a weight needs a unit, a word of gaining and a span of time (a gain with no time is a question).
 */
export function readNumbers(message: ReadMessage, rules: SafetyPhrases, matchesOf: (list: string) => Match[]): NumberFinding[] {
  const { words } = message;
  const findings: NumberFinding[] = [];
  // Most messages hold no number: then no list need be searched.
  if (!words.some((word) => /^\d/.test(word.forms[0] ?? ''))) return findings;
  const feverWords = matchesOf('feverWords');
  const gainWords = matchesOf('weightGain');
  const labWords = matchesOf('labWords');
  const isUnit = (index: number, list: string) => matchesOf(list).some((m) => m.start === index);
  const form = (index: number) => words[index]?.forms[0] ?? '';

  for (let i = 0; i < words.length; i++) {
    if (!/^\d+(\.\d+)?$/.test(form(i))) continue;
    let value = Number(form(i));
    let last = i;
    // "38 point 6", "38 con 5", "38 y medio"
    if (DECIMAL_WORDS.has(form(i + 1)) && /^\d$/.test(form(i + 2)) && !form(i).includes('.')) {
      value = Number(`${form(i)}.${form(i + 2)}`);
      last = i + 2;
    } else {
      for (const half of HALF) {
        if (half.every((w, k) => form(i + 1 + k) === w)) {
          value += 0.5;
          last = i + half.length;
        }
      }
    }
    const clause = words[i]!.clause;

    // Temperature.
    const unitAt = last + 1;
    const degreeUnit = isUnit(unitAt, 'temperatureUnits');
    const unitWords = [form(unitAt), form(unitAt + 1)];
    const fahrenheit = unitWords.some((w) => w === 'f' || w === 'fahrenheit');
    const celsius = unitWords.some((w) => w === 'c' || w === 'celsius' || w.startsWith('centigrad'));
    const feverNear = feverWords.some((m) => m.clause === clause && Math.abs(m.start - i) <= 6);
    // "38.6 this morning and going up": a decimal in the range of a fever is read as one, unless the
    // sentence is about a lab value, a weight or a price (a beta hCG of 38.6 is not a temperature).
    const bareDecimal = form(i).includes('.') && ((value >= 37.5 && value < 43) || (value >= 99.5 && value < 109)) && !labWords.some((m) => m.clause === clause);
    if (degreeUnit || feverNear || bareDecimal) {
      const scale = fahrenheit ? 'F' : celsius ? 'C' : value >= 34 && value <= 45 ? 'C' : value >= 93 && value <= 113 ? 'F' : undefined;
      const fever =
        (scale === 'C' && value >= rules.numbers.feverCelsius && value <= 45) || (scale === 'F' && value >= rules.numbers.feverFahrenheit && value <= 113);
      if (fever) findings.push(finding(`temperature of ${value} °${scale}`, i, last + (degreeUnit ? 1 : 0), clause));
    }

    // Weight gained per day.
    const unit = isUnit(unitAt, 'weightUnits') ? form(unitAt) : undefined;
    if (unit && gainWords.some((m) => m.clause === clause)) {
      const days = spanInDays(words.map((w, index) => (w.clause === clause && index !== i ? w.forms[0]! : '')));
      if (days !== undefined) {
        const perDay = value / days;
        const pounds = /^(lb|lbs|pound|libra)/.test(unit);
        if (perDay >= (pounds ? rules.numbers.lbPerDay : rules.numbers.kgPerDay)) {
          findings.push(finding(`weight gain of ${value} ${pounds ? 'lb' : 'kg'} in ${days} day(s)`, i, unitAt, clause));
        }
      }
    }
  }
  return findings;
}

/** "in two days" → 2, "overnight" → 1, "48 hours" → 2, "this week" → 7; undefined when no span is said. */
function spanInDays(clauseWords: string[]): number | undefined {
  for (let k = 0; k < clauseWords.length; k++) {
    const word = clauseWords[k]!;
    if (!word) continue;
    const count = /^\d+$/.test(word) ? Number(word) : WORD_NUMBERS[word];
    const next = clauseWords[k + 1] ?? '';
    if (count !== undefined && count > 0) {
      if (DAY_WORDS.has(next)) return count;
      if (HOUR_WORDS.has(next)) return Math.max(count / 24, 0.5);
      if (WEEK_WORDS.has(next)) return count * 7;
    }
    if (ONE_DAY_WORDS.has(word)) return 1;
    if ((word === 'per' || word === 'por' || word === 'this' || word === 'esta' || word === 'al') && DAY_WORDS.has(next)) return 1;
    if ((word === 'this' || word === 'esta') && WEEK_WORDS.has(next)) return 7;
  }
  return undefined;
}

function finding(rule: string, start: number, end: number, clause: number): NumberFinding {
  const matched: number[] = [];
  for (let i = start; i <= end; i++) matched.push(i);
  return { rule, start, end, clause, matched };
}
