import type { DocumentText } from './document-text.ts';

/** Plain text: paragraphs are separated by blank lines; there are no headings to find. */
export function readPlainText(text: string, fallbackTitle: string): DocumentText {
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((paragraph) => paragraph.trim())
    .filter(Boolean);
  return { title: fallbackTitle, blocks: paragraphs.map((paragraph) => ({ kind: 'paragraph', text: paragraph })) };
}
