import type { Languages } from '../language/load-languages.ts';

/**
 * The text search configurations a question is searched with: every language's, whatever the patient
 * wrote in, since each configuration parses the query only for the chunks indexed with it.
 */
export function searchConfigurations(languages: Languages): string[] {
  return [...new Set([...languages.byCode.values()].map((language) => language.textSearch))];
}
