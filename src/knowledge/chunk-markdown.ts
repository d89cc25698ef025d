import { createHash } from 'node:crypto';

export type Chunk = { position: number; title: string; heading: string; content: string; contentHash: string };

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Splits a Markdown document into chunks that keep meaning together: by heading first, then by
 * paragraph, up to maxChars each (about 300 tokens at the default). Every chunk keeps the document's
 * title and its heading path ("Before the procedure › Fasting"), which answers cite.
 */
export function chunkMarkdown(text: string, fallbackTitle: string, maxChars = 1200): { title: string; chunks: Chunk[] } {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let title = fallbackTitle;
  const path: string[] = [];
  const sections: { heading: string; paragraphs: string[] }[] = [];
  let current: { heading: string; paragraphs: string[] } = { heading: '', paragraphs: [] };
  let paragraph: string[] = [];

  const endParagraph = () => {
    const joined = paragraph.join('\n').trim();
    if (joined) current.paragraphs.push(joined);
    paragraph = [];
  };
  for (const line of lines) {
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      endParagraph();
      const level = heading[1]!.length;
      const name = heading[2]!;
      if (level === 1 && title === fallbackTitle && sections.length === 0 && current.paragraphs.length === 0) {
        title = name;
        continue;
      }
      if (current.paragraphs.length > 0) sections.push(current);
      path.splice(Math.max(0, level - 2));
      path.push(name);
      current = { heading: path.join(' › '), paragraphs: [] };
    } else if (line.trim() === '') {
      endParagraph();
    } else {
      paragraph.push(line);
    }
  }
  endParagraph();
  if (current.paragraphs.length > 0) sections.push(current);

  const chunks: Chunk[] = [];
  for (const section of sections) {
    let buffer = '';
    const flush = () => {
      if (!buffer) return;
      chunks.push({ position: chunks.length, title, heading: section.heading, content: buffer, contentHash: sha256(`${title}\n${section.heading}\n${buffer}`) });
      buffer = '';
    };
    for (const paragraph of section.paragraphs) {
      if (buffer && buffer.length + paragraph.length + 2 > maxChars) flush();
      buffer = buffer ? `${buffer}\n\n${paragraph}` : paragraph;
    }
    flush();
  }
  return { title, chunks };
}
