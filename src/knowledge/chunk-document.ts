import { createHash } from 'node:crypto';

import { isWithinTokenLimit } from 'gpt-tokenizer/encoding/cl100k_base';

import type { DocumentText } from './document-text.ts';
import { embeddingInput } from './embedding-input.ts';

export type DocumentChunk = { position: number; title: string; heading: string; content: string; contentHash: string };

export type ChunkingOptions = {
  /** Most tokens of content in one chunk (cl100k_base, the text-embedding-3 tokenizer). */
  maxTokens: number;
  /** Whole sentences from the end of one chunk repeated at the start of the next, up to this many tokens. */
  overlapTokens: number;
};

/** About 1,200 characters: a chunk still fits one SMS when offline mode quotes it. */
const DEFAULTS: ChunkingOptions = { maxTokens: 300, overlapTokens: 40 };

const HEADING_SEPARATOR = ' › ';

type Unit = { text: string; separator: string };

/**
 * Splits a document into chunks that keep meaning together: by heading first (a chunk never spans
 * two sections), then by paragraph, then, for a paragraph too long on its own, by sentence and by
 * word. Within a section consecutive chunks overlap by a sentence or two. Every chunk carries the
 * document title and its heading path ("Before the procedure › Fasting"), which answers cite, and the
 * hash of the text that will be embedded.
 */
export function chunkDocument(document: DocumentText, options: Partial<ChunkingOptions> = {}): DocumentChunk[] {
  const { maxTokens, overlapTokens } = { ...DEFAULTS, ...options };
  const fits = (text: string) => isWithinTokenLimit(text, maxTokens) !== false;
  const title = clip(document.title, 200);

  const sections: { heading: string; paragraphs: string[] }[] = [];
  const path: { level: number; text: string }[] = [];
  let current = { heading: '', paragraphs: [] as string[] };
  for (const block of document.blocks) {
    if (block.kind === 'paragraph') {
      current.paragraphs.push(block.text);
      continue;
    }
    if (current.paragraphs.length > 0) sections.push(current);
    while (path.length > 0 && path.at(-1)!.level >= block.level) path.pop();
    path.push(block);
    current = { heading: clip(path.map((entry) => entry.text).join(HEADING_SEPARATOR), 300), paragraphs: [] };
  }
  if (current.paragraphs.length > 0) sections.push(current);

  const chunks: DocumentChunk[] = [];
  for (const section of sections) {
    const units = section.paragraphs.flatMap((paragraph) => (fits(paragraph) ? [{ text: paragraph, separator: '\n\n' }] : splitToFit(paragraph, fits)));
    for (const content of pack(units, fits, overlapTokens)) {
      const chunk = { title, heading: section.heading, content };
      chunks.push({ position: chunks.length, ...chunk, contentHash: createHash('sha256').update(embeddingInput(chunk)).digest('hex') });
    }
  }
  return chunks;
}

/** Greedy packing of units into chunks that fit, each new chunk opening with the last one's tail. */
function pack(units: Unit[], fits: (text: string) => boolean, overlapTokens: number): string[] {
  const chunks: string[] = [];
  let current: Unit[] = [];
  for (const unit of units) {
    if (current.length > 0 && !fits(join([...current, unit]))) {
      chunks.push(join(current));
      const overlap = tailSentences(current.at(-1)!.text, overlapTokens);
      current = overlap && fits(join([{ text: overlap, separator: '' }, unit])) ? [{ text: overlap, separator: '' }] : [];
    }
    current.push(unit);
  }
  if (current.length > 0) chunks.push(join(current));
  return chunks;
}

function join(units: Unit[]): string {
  return units.map((unit, index) => (index === 0 ? unit.text : unit.separator + unit.text)).join('');
}

/** The last whole sentences of a text that together fit in `tokens`; '' when even the last does not. */
function tailSentences(text: string, tokens: number): string {
  if (tokens <= 0) return '';
  const sentences = splitSentences(text);
  let tail = '';
  for (let index = sentences.length - 1; index >= 0; index--) {
    const candidate = join(sentences.slice(index));
    if (isWithinTokenLimit(candidate, tokens) === false) break;
    tail = candidate;
  }
  return tail;
}

/** A paragraph too long for one chunk, as sentences (and, for a sentence too long, runs of words). */
function splitToFit(paragraph: string, fits: (text: string) => boolean): Unit[] {
  const units: Unit[] = [];
  for (const [index, sentence] of splitSentences(paragraph).entries()) {
    const separator = index === 0 ? '\n\n' : sentence.separator;
    if (fits(sentence.text)) {
      units.push({ text: sentence.text, separator });
      continue;
    }
    // One run of words at a time, as many words as fit; a single word longer than a chunk is cut.
    let run = '';
    let runSeparator = separator;
    for (const word of sentence.text.split(/\s+/)) {
      for (const piece of fits(word) ? [word] : cutToFit(word, fits)) {
        const candidate = run ? `${run} ${piece}` : piece;
        if (run && !fits(candidate)) {
          units.push({ text: run, separator: runSeparator });
          runSeparator = ' ';
          run = piece;
        } else {
          run = candidate;
        }
      }
    }
    if (run) units.push({ text: run, separator: runSeparator });
  }
  return units;
}

function splitSentences(text: string): Unit[] {
  // Captured separators: a space after . ! ? (and a closing quote or bracket), or a line break.
  const parts = text.split(/((?<=[.!?]["')\]]?)[ \t]+|[ \t]*\n\s*)/);
  const sentences: Unit[] = [];
  for (let index = 0; index < parts.length; index += 2) {
    const sentence = parts[index]!.trim();
    if (!sentence) continue;
    const separator = (parts[index - 1] ?? ' ').includes('\n') ? '\n' : ' ';
    sentences.push({ text: sentence, separator });
  }
  return sentences;
}

function cutToFit(word: string, fits: (text: string) => boolean): string[] {
  const characters = [...word];
  const pieces: string[] = [];
  while (characters.length > 0) {
    let size = characters.length;
    while (size > 1 && !fits(characters.slice(0, size).join(''))) size = Math.ceil(size / 2);
    pieces.push(characters.splice(0, size).join(''));
  }
  return pieces;
}

function clip(text: string, maxCharacters: number): string {
  return text.length <= maxCharacters ? text : `${text.slice(0, maxCharacters - 1).trimEnd()}…`;
}
