import { shippedLanguages, type Languages } from './load-languages.ts';
import { stripAccents } from './strip-accents.ts';

/**
 * The language a patient's message is written in (a code of config/languages.json, such as "en" or
 * "es"), or undefined when it gives no evidence either way ("ok", "👍", "IVF?"): the caller then keeps
 * the conversation's language. Word lists rather than character statistics, because patients' messages
 * are short (three or four words), often without accents, and full of the clinic's own vocabulary.
 */
export function detectLanguage(text: string, languages: Languages = shippedLanguages()): string | undefined {
  const words = stripAccents(text).match(/[\p{L}']+/gu)?.map((word) => word.replaceAll("'", '')) ?? [];
  let best: string | undefined;
  let bestScore = 0;
  let tied = false;
  for (const [code, rules] of languages.byCode) {
    let score = 0;
    for (const character of text.toLowerCase()) if (rules.characters.has(character)) score += 1;
    for (const word of words) {
      if (rules.words.has(word)) score += 1;
      else if (word.length > 4 && rules.endings.some((ending) => word.endsWith(ending))) score += 0.5;
    }
    if (score > bestScore) {
      best = code;
      bestScore = score;
      tied = false;
    } else if (score === bestScore && score > 0) {
      tied = true;
    }
  }
  return tied ? undefined : best;
}
