import { PDFParse } from 'pdf-parse';

import type { Block, DocumentText } from './document-text.ts';

/**
 * A PDF's text, page by page (pdf-parse, over Mozilla's pdf.js). A PDF has no reliable headings, so
 * each page of a longer PDF is a section named "Page N", which answers can cite. The title is the
 * PDF's own Title, else the file name. Throws on a damaged or password-protected file.
 */
export async function readPdf(bytes: Uint8Array, fallbackTitle: string): Promise<DocumentText> {
  const parser = new PDFParse({ data: bytes });
  try {
    const info = await parser.getInfo();
    const result = await parser.getText();
    const rawTitle: unknown = info.info?.Title;
    const title = typeof rawTitle === 'string' && rawTitle.trim() ? rawTitle.trim() : fallbackTitle;
    const blocks: Block[] = [];
    for (const [index, page] of result.pages.entries()) {
      const paragraphs = page.text
        .split(/\n[ \t]*\n/)
        .map((paragraph) => paragraph.trim())
        .filter(Boolean);
      if (paragraphs.length === 0) continue;
      if (result.pages.length > 1) blocks.push({ kind: 'heading', level: 2, text: `Page ${index + 1}` });
      for (const paragraph of paragraphs) blocks.push({ kind: 'paragraph', text: paragraph });
    }
    return { title, blocks };
  } finally {
    await parser.destroy();
  }
}
