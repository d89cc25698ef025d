import { convert, type FormatCallback, type HtmlToTextOptions } from 'html-to-text';

import type { DocumentText } from './document-text.ts';
import { readMarkdown } from './read-markdown.ts';

/** Page furniture and code: none of it is the clinic's text, and none of it may reach a chunk. */
const SKIPPED = [
  'script', 'style', 'noscript', 'template', 'head', 'title', 'nav', 'header', 'footer', 'aside', 'form', 'button',
  'iframe', 'svg', 'canvas', 'img', 'picture', 'video', 'audio', 'select', '[role=navigation]', '[role=banner]',
  '[role=contentinfo]', '[aria-hidden=true]', '[hidden]',
];

/** Headings come out as Markdown `#` lines, so that readMarkdown finds the sections. */
const markdownHeading: FormatCallback = (element, walk, builder, formatOptions) => {
  const level = Number(formatOptions['level'] ?? 2);
  builder.openBlock({ leadingLineBreaks: 2 });
  builder.addLiteral(`${'#'.repeat(level)} `);
  walk(element.children, builder);
  builder.closeBlock({ trailingLineBreaks: 2 });
};

const BODY_OPTIONS: HtmlToTextOptions = {
  wordwrap: false,
  formatters: { markdownHeading },
  selectors: [
    ...SKIPPED.map((selector) => ({ selector, format: 'skip' })),
    ...[1, 2, 3, 4, 5, 6].map((level) => ({ selector: `h${level}`, format: 'markdownHeading', options: { level } })),
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'ul', options: { itemPrefix: '- ' } },
    { selector: 'table', format: 'dataTable' },
  ],
};

const TITLE_OPTIONS: HtmlToTextOptions = { wordwrap: false, baseElements: { selectors: ['title'], returnDomByDefault: false } };

/**
 * HTML as text only: no scripts, styles, navigation, page header or footer. The title is the page's
 * first level-1 heading, else its <title>, else the file name.
 */
export function readHtml(html: string, fallbackTitle: string): DocumentText {
  const pageTitle = convert(html, TITLE_OPTIONS).replace(/\s+/g, ' ').trim();
  return readMarkdown(convert(html, BODY_OPTIONS), pageTitle || fallbackTitle);
}
