import { evaluateLanguage, formatLanguageReport, readLanguageSet } from './evaluate-language.ts';
import { LANGUAGES_FILE, loadLanguages } from '../src/language/load-languages.ts';

/**
 * npm run eval:language [-- <set.jsonl> [languages.json]]: how the language detector does on a
 * labelled set (eval/language.jsonl by default) with the shipped rules (config/languages.json). Exit
 * code 1 under 95 % accuracy, the bar the test suite holds the shipped rules to.
 */
const [setPath = 'eval/language.jsonl', rulesPath = LANGUAGES_FILE] = process.argv.slice(2);
try {
  const result = evaluateLanguage(readLanguageSet(setPath), loadLanguages(rulesPath));
  console.log(`Language detection of ${setPath} with ${rulesPath}\n`);
  console.log(formatLanguageReport(result));
  process.exitCode = result.accuracy >= 0.95 ? 0 : 1;
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 2;
}
