import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { z } from 'zod';

import { stripAccents } from './strip-accents.ts';

const languageSchema = z.object({
  name: z.string().min(1),
  textSearch: z.string().regex(/^[a-z_]+$/, 'must be a PostgreSQL text search configuration, like spanish'),
  characters: z.string(),
  endings: z.array(z.string().min(1)),
  words: z.array(z.string().min(1)).min(1),
});

const fileSchema = z.object({
  fallback: z.string().min(2),
  languages: z.record(z.string().regex(/^[a-z]{2}$/, 'must be a two-letter language code, like es'), languageSchema),
});

export type LanguageRules = {
  name: string;
  textSearch: string;
  characters: Set<string>;
  endings: string[];
  words: Set<string>;
};

export type Languages = { fallback: string; byCode: Map<string, LanguageRules> };

export const LANGUAGES_FILE = fileURLToPath(new URL('../../config/languages.json', import.meta.url));

/** The language rules file (config/languages.json), checked: a broken file names its path and field. */
export function loadLanguages(path = LANGUAGES_FILE): Languages {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new Error(`${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  const { fallback, languages } = parsed.data;
  if (!languages[fallback]) throw new Error(`${path}: fallback: "${fallback}" is not one of the languages`);
  const byCode = new Map(
    Object.entries(languages).map(([code, language]) => [
      code,
      {
        name: language.name,
        textSearch: language.textSearch,
        characters: new Set(language.characters),
        endings: language.endings.map(stripAccents),
        words: new Set(language.words.map(stripAccents)),
      },
    ]),
  );
  return { fallback, byCode };
}

let shipped: Languages | undefined;

/** The shipped rules, read once. */
export function shippedLanguages(): Languages {
  return (shipped ??= loadLanguages());
}
