import { evaluateTriage, formatTriageReport, readLabelledSet } from './evaluate-triage.ts';
import { loadSafetyPhrases } from '../src/safety/load-safety-phrases.ts';

/**
 * npm run eval:triage [-- <set.jsonl> [rules.json]]: how the emergency recogniser does on a labelled
 * set (eval/triage.jsonl by default) with the clinic's rules (SAFETY_PHRASES_FILE, else
 * config/safety-phrases.json). Exit code 1 when recall is under 98 %, self-harm under 100 % or false
 * alarms over 5 %, the bar the test suite holds the shipped rules to.
 */
const [setPath = 'eval/triage.jsonl', rulesPath = process.env.SAFETY_PHRASES_FILE || 'config/safety-phrases.json'] = process.argv.slice(2);
try {
  const result = evaluateTriage(readLabelledSet(setPath), loadSafetyPhrases(rulesPath));
  console.log(`Triage of ${setPath} with ${rulesPath}\n`);
  console.log(formatTriageReport(result));
  process.exitCode = result.recall >= 0.98 && result.selfHarmRecall === 1 && result.falseAlarmRate <= 0.05 ? 0 : 1;
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 2;
}
