/**
 * A document as every reader hands it to the chunker: its title, and its text as headings and
 * paragraphs in reading order. Whatever the format, structure is reduced to these two kinds.
 */
export type DocumentText = { title: string; blocks: Block[] };

export type Block = { kind: 'heading'; level: number; text: string } | { kind: 'paragraph'; text: string };
