import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readDocument } from '../../src/knowledge/read-document.ts';
import { readHtml } from '../../src/knowledge/read-html.ts';
import { readMarkdown } from '../../src/knowledge/read-markdown.ts';
import { makePdf } from '../support/make-pdf.ts';

const dir = mkdtempSync(join(tmpdir(), 'clinic-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const paragraphs = (text: string) =>
  readMarkdown(text, 'Fallback').blocks.filter((block) => block.kind === 'paragraph').map((block) => block.text);

describe('readMarkdown', () => {
  it('when the document opens with a level-1 heading, then that is the title and the rest are sections', () => {
    const document = readMarkdown('# Egg Retrieval\n\nIntro.\n\n## Before\n\nFast from midnight.\n\n### Fasting\nNo food.', 'egg retrieval');
    expect(document.title).toBe('Egg Retrieval');
    expect(document.blocks).toEqual([
      { kind: 'paragraph', text: 'Intro.' },
      { kind: 'heading', level: 2, text: 'Before' },
      { kind: 'paragraph', text: 'Fast from midnight.' },
      { kind: 'heading', level: 3, text: 'Fasting' },
      { kind: 'paragraph', text: 'No food.' },
    ]);
  });

  it('when there is front matter with a title, then it is the title and is not text', () => {
    const document = readMarkdown('---\ntitle: "Costs"\nauthor: x\n---\n# Prices\nOne cycle.', 'f');
    expect(document.title).toBe('Costs');
    expect(document.blocks[0]).toEqual({ kind: 'heading', level: 1, text: 'Prices' });
  });

  it('when a code fence holds a # line, then it is text, not a heading', () => {
    const document = readMarkdown('Intro\n\n```\n# not a heading\n```\n', 'f');
    expect(document.blocks.every((block) => block.kind === 'paragraph')).toBe(true);
  });

  it('when a heading is underlined, then it is a heading; a lone rule is dropped', () => {
    expect(readMarkdown('Aftercare\n---------\nRest today.\n\n---\n\nMore.', 'f').blocks).toEqual([
      { kind: 'heading', level: 2, text: 'Aftercare' },
      { kind: 'paragraph', text: 'Rest today.' },
      { kind: 'paragraph', text: 'More.' },
    ]);
    expect(paragraphs('- a\n- b\n\ntext')).toEqual(['- a\n- b', 'text']);
  });
});

describe('readHtml', () => {
  const page = `<!doctype html><html><head><title>Embryo Transfer | Clinic</title><style>.x{color:red}</style>
    <script>window.trackVisitor("secret-tracker")</script></head>
    <body><header>Site header banner</header><nav><a href="/">Main menu</a></nav>
    <main><h2>On the day</h2><p>Come with a <b>comfortably full</b> bladder.</p>
    <h3>Afterwards</h3><ul><li>Rest</li><li>Walk</li></ul><noscript>Enable JavaScript</noscript></main>
    <aside>Related links</aside><footer>Copyright footer</footer><script>more()</script></body></html>`;

  it('when a page has scripts, navigation, header and footer, then only its text is read, with its headings', () => {
    const document = readHtml(page, 'fallback');
    const text = JSON.stringify(document);
    for (const furniture of ['secret-tracker', 'Main menu', 'Site header', 'Copyright footer', 'Related links', 'color:red', 'Enable JavaScript', 'more()']) {
      expect(text).not.toContain(furniture);
    }
    expect(document.title).toBe('Embryo Transfer | Clinic');
    expect(document.blocks).toEqual([
      { kind: 'heading', level: 2, text: 'On the day' },
      { kind: 'paragraph', text: 'Come with a comfortably full bladder.' },
      { kind: 'heading', level: 3, text: 'Afterwards' },
      { kind: 'paragraph', text: '- Rest\n- Walk' },
    ]);
  });

  it('when the page opens with a level-1 heading, then that is the title', () => {
    expect(readHtml('<title>Site</title><h1>Frozen Transfer</h1><p>Text &amp; more.</p>', 'f')).toEqual({
      title: 'Frozen Transfer',
      blocks: [{ kind: 'paragraph', text: 'Text & more.' }],
    });
  });
});

describe('readDocument', () => {
  it('when given a PDF, then its text is read page by page with its metadata title', async () => {
    const path = file('consent.pdf', await makePdf([['Consent forms', 'Both partners sign before treatment.'], ['Storage of embryos is reviewed yearly.']], { title: 'Consent Guide' }));
    const result = await readDocument(path);
    expect(result).toEqual({
      document: {
        title: 'Consent Guide',
        blocks: [
          { kind: 'heading', level: 2, text: 'Page 1' },
          { kind: 'paragraph', text: 'Consent forms\nBoth partners sign before treatment.' },
          { kind: 'heading', level: 2, text: 'Page 2' },
          { kind: 'paragraph', text: 'Storage of embryos is reviewed yearly.' },
        ],
      },
    });
  });

  it('when a PDF has no title or text layer, then the title comes from the file name, or it is skipped', async () => {
    const titled = await readDocument(file('after-transfer_care.pdf', await makePdf([['Rest for a day.']])));
    expect(titled).toMatchObject({ document: { title: 'After transfer care', blocks: [{ kind: 'paragraph', text: 'Rest for a day.' }] } });
    expect(await readDocument(file('scan.pdf', await makePdf([[]])))).toEqual({ skipped: 'no text found (a scanned PDF needs OCR first)' });
  });

  it('when a file is not what its name says, or not supported, then it is skipped with the reason', async () => {
    expect(await readDocument(file('broken.pdf', 'this is not a pdf'))).toEqual({ skipped: expect.stringMatching(/^not a readable PDF/) });
    expect(await readDocument(file('latin1.txt', Buffer.from([0x63, 0x61, 0x66, 0xe9])))).toEqual({ skipped: 'not UTF-8 text' });
    expect(await readDocument(file('form.docx', 'x'))).toEqual({ skipped: expect.stringMatching(/^unsupported file type \(\.docx\)/) });
    expect(await readDocument(file('empty.md', '\n\n'))).toEqual({ skipped: 'no text found' });
    expect(await readDocument(join(dir, 'missing.md'))).toEqual({ skipped: expect.stringMatching(/^unreadable/) });
  });

  it('when given plain text, then paragraphs are split on blank lines and the title is the file name', async () => {
    expect(await readDocument(file('clinic_hours.txt', '\uFEFFOpen 8 to 6.\r\n\r\nClosed Sundays.\n'))).toEqual({
      document: { title: 'Clinic hours', blocks: [{ kind: 'paragraph', text: 'Open 8 to 6.' }, { kind: 'paragraph', text: 'Closed Sundays.' }] },
    });
  });
});
