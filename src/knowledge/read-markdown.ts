import type { Block, DocumentText } from './document-text.ts';

const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(```|~~~)/;
const SETEXT_UNDERLINE = /^ {0,3}(=+|-{2,})[ \t]*$/;

/**
 * Markdown (and the Markdown-like text read-html makes) as headings and paragraphs. A level-1
 * heading before any text is the title; a YAML front matter `title:` comes first. Lines in a code
 * fence stay text, so a `#` comment there is not a heading. Inline markup is kept: it reads fine in
 * an SMS and the embedding does not mind it.
 */
export function readMarkdown(text: string, fallbackTitle: string): DocumentText {
  let lines = text.replace(/\r\n?/g, '\n').split('\n');
  let title: string | undefined;
  if (lines[0]?.trim() === '---') {
    const end = lines.indexOf('---', 1);
    if (end > 0) {
      const titleLine = lines.slice(1, end).find((line) => /^title:\s*\S/.test(line));
      title = titleLine?.replace(/^title:\s*/, '').replace(/^(['"])(.*)\1$/, '$2').trim() || undefined;
      lines = lines.slice(end + 1);
    }
  }

  const blocks: Block[] = [];
  let paragraph: string[] = [];
  let fence: string | undefined;
  const endParagraph = () => {
    const joined = paragraph.join('\n').trim();
    if (joined) blocks.push({ kind: 'paragraph', text: joined });
    paragraph = [];
  };
  const addHeading = (level: number, headingText: string) => {
    const clean = headingText.trim();
    if (!clean) return;
    if (level === 1 && title === undefined && blocks.length === 0) title = clean;
    else blocks.push({ kind: 'heading', level, text: clean });
  };

  for (const line of lines) {
    const fenceMatch = FENCE.exec(line);
    if (fence) {
      paragraph.push(line);
      if (fenceMatch?.[1] === fence) fence = undefined;
      continue;
    }
    if (fenceMatch) {
      fence = fenceMatch[1];
      paragraph.push(line);
      continue;
    }
    const heading = ATX_HEADING.exec(line);
    const underline = SETEXT_UNDERLINE.exec(line);
    if (heading) {
      endParagraph();
      addHeading(heading[1]!.length, heading[2] ?? '');
    } else if (underline && paragraph.length === 1) {
      // "Title\n=====" is a heading; a lone "---" after a blank line is a rule, dropped below.
      const headingText = paragraph[0]!;
      paragraph = [];
      addHeading(underline[1]!.startsWith('=') ? 1 : 2, headingText);
    } else if (line.trim() === '') {
      endParagraph();
    } else if (!(paragraph.length === 0 && /^ {0,3}([-*_])( *\1){2,} *$/.test(line))) {
      paragraph.push(line);
    }
  }
  endParagraph();
  return { title: title ?? fallbackTitle, blocks };
}
