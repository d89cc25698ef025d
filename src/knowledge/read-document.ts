import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';

import type { DocumentText } from './document-text.ts';
import { readMarkdown } from './read-markdown.ts';
import { readPlainText } from './read-plain-text.ts';

type Reader =
  | { kind: 'text'; read: (text: string, title: string) => DocumentText | Promise<DocumentText> }
  | { kind: 'binary'; read: (bytes: Uint8Array, title: string) => Promise<DocumentText> };

// The HTML and PDF readers are loaded the first time such a file is read: pdf-parse (pdf.js) alone
// holds about 130 MB once loaded, which a server whose documents are Markdown never needs.
const readHtml = async (text: string, title: string) => (await import('./read-html.ts')).readHtml(text, title);
const readPdf = async (bytes: Uint8Array, title: string) => (await import('./read-pdf.ts')).readPdf(bytes, title);

const READERS: Record<string, Reader> = {
  '.md': { kind: 'text', read: readMarkdown },
  '.markdown': { kind: 'text', read: readMarkdown },
  '.txt': { kind: 'text', read: readPlainText },
  '.text': { kind: 'text', read: readPlainText },
  '.html': { kind: 'text', read: readHtml },
  '.htm': { kind: 'text', read: readHtml },
  '.pdf': { kind: 'binary', read: readPdf },
};

/** The file extensions readDocument reads. */
export const SUPPORTED_EXTENSIONS = Object.keys(READERS);

const MAX_FILE_BYTES = 50 * 1024 * 1024;

export type ReadResult = { document: DocumentText } | { skipped: string };

/**
 * Reads one file by its extension. A file that cannot be used (unsupported type, not UTF-8, damaged
 * or encrypted PDF, no text at all) comes back as `skipped` with the reason, for the run to list and
 * go on.
 */
export async function readDocument(path: string): Promise<ReadResult> {
  const extension = extname(path).toLowerCase();
  const reader = READERS[extension];
  if (!reader) return { skipped: `unsupported file type${extension ? ` (${extension})` : ''}: use ${SUPPORTED_EXTENSIONS.join(', ')}` };
  const fallbackTitle = titleFromFileName(path);
  try {
    const { size } = await stat(path);
    if (size > MAX_FILE_BYTES) return { skipped: `larger than ${MAX_FILE_BYTES / 1024 / 1024} MB` };
    const bytes = new Uint8Array(await readFile(path));
    let document: DocumentText;
    if (reader.kind === 'binary') {
      document = await reader.read(bytes, fallbackTitle);
    } else {
      const text = decodeText(bytes);
      if (text === undefined) return { skipped: 'not UTF-8 text' };
      document = await reader.read(text, fallbackTitle);
    }
    if (!document.blocks.some((block) => block.kind === 'paragraph')) {
      return { skipped: extension === '.pdf' ? 'no text found (a scanned PDF needs OCR first)' : 'no text found' };
    }
    return { document };
  } catch (error) {
    return { skipped: describeReadError(error, extension) };
  }
}

function decodeText(bytes: Uint8Array): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.includes('\u0000') ? undefined : text;
  } catch {
    return undefined;
  }
}

function describeReadError(error: unknown, extension: string): string {
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'PasswordException') return 'password-protected PDF';
  if (extension === '.pdf') return `not a readable PDF (${message})`;
  return `unreadable (${message})`;
}

/** "egg-retrieval_faq.md" → "Egg retrieval faq" */
function titleFromFileName(path: string): string {
  const words = basename(path, extname(path)).replace(/[-_]+/g, ' ').trim();
  return words ? words[0]!.toUpperCase() + words.slice(1) : basename(path);
}
