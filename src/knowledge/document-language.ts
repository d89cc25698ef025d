import { basename } from 'node:path';

import { detectLanguage } from '../language/detect-language.ts';
import { shippedLanguages, type Languages } from '../language/load-languages.ts';
import type { DocumentText } from './document-text.ts';

/**
 * The language a document is written in, as a code of config/languages.json: declared in its file
 * name (`consent.es.pdf`, `ivf.en.md`) when the clinic wants to be sure, else detected from its text
 * (its first blocks are plenty), else the fallback language. Decides the text search configuration its
 * chunks are indexed with.
 */
export function documentLanguage(path: string, document: DocumentText, languages: Languages = shippedLanguages()): string {
  const declared = /\.([a-z]{2})\.[a-z]+$/i.exec(basename(path))?.[1]?.toLowerCase();
  if (declared && languages.byCode.has(declared)) return declared;
  const sample = document.blocks.slice(0, 40).map((block) => block.text).join('\n');
  return detectLanguage(`${document.title}\n${sample}`, languages) ?? languages.fallback;
}
