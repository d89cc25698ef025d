import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { evaluateTriage, formatTriageReport, readLabelledSet } from '../../eval/evaluate-triage.ts';
import { loadSafetyPhrases } from '../../src/safety/load-safety-phrases.ts';

const rules = loadSafetyPhrases(fileURLToPath(new URL('../../config/safety-phrases.json', import.meta.url)));
const set = readLabelledSet(fileURLToPath(new URL('../../eval/triage.jsonl', import.meta.url)));

describe('the emergency recogniser on the labelled set (eval/triage.jsonl, npm run eval:triage)', () => {
  const result = evaluateTriage(set, rules);

  it('when the set is read, then it has at least 200 messages of every label in both languages', () => {
    expect(set.length).toBeGreaterThanOrEqual(200);
    for (const label of ['emergency', 'self_harm', 'symptom_question', 'ordinary']) {
      for (const lang of ['en', 'es']) expect(set.filter((row) => row.label === label && row.lang === lang).length, `${label}/${lang}`).toBeGreaterThanOrEqual(10);
    }
  });

  it('when the shipped rules read it, then recall is at least 98 %, every self-harm message is recognised as such, and false alarms stay at or under 5 %', () => {
    const report = formatTriageReport(result);
    expect(result.recall, report).toBeGreaterThanOrEqual(0.98);
    expect(result.selfHarmRecall, report).toBe(1);
    expect(result.falseAlarmRate, report).toBeLessThanOrEqual(0.05);
  });

  it('when the rules lose their combinations, then the evaluation notices (the bar can fail)', () => {
    const weakened = { ...rules, combinations: [] };
    const weak = evaluateTriage(set, weakened);
    expect(weak.recall).toBeLessThan(0.98);
    expect(formatTriageReport(weak)).toMatch(/Misses \(\d+\):\n- \[emergency/);
  });
});
