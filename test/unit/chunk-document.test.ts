import fc from 'fast-check';
import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';

import { chunkDocument } from '../../src/knowledge/chunk-document.ts';
import type { Block } from '../../src/knowledge/document-text.ts';

const heading = (level: number, text: string): Block => ({ kind: 'heading', level, text });
const paragraph = (text: string): Block => ({ kind: 'paragraph', text });
const sentences = (count: number, topic: string) =>
  Array.from({ length: count }, (_, index) => `Sentence ${index + 1} is about ${topic} and what the clinic team does next.`).join(' ');

describe('chunkDocument', () => {
  it('when sections are short, then each heading starts a chunk carrying the title and the heading path', () => {
    const chunks = chunkDocument({
      title: 'Egg Retrieval',
      blocks: [paragraph('What it is.'), heading(2, 'Before'), paragraph('Fast from midnight.'), heading(3, 'Fasting'), paragraph('No food.'), heading(2, 'After'), paragraph('Rest.')],
    });
    expect(chunks.map(({ position, title, heading: path, content }) => ({ position, title, heading: path, content }))).toEqual([
      { position: 0, title: 'Egg Retrieval', heading: '', content: 'What it is.' },
      { position: 1, title: 'Egg Retrieval', heading: 'Before', content: 'Fast from midnight.' },
      { position: 2, title: 'Egg Retrieval', heading: 'Before › Fasting', content: 'No food.' },
      { position: 3, title: 'Egg Retrieval', heading: 'After', content: 'Rest.' },
    ]);
  });

  it('when a section is longer than the limit, then it is split between paragraphs, each chunk within the limit', () => {
    const blocks = [heading(2, 'Medicines'), ...[1, 2, 3, 4].map((n) => paragraph(sentences(3, `medicine ${n}`)))];
    const chunks = chunkDocument({ title: 'T', blocks }, { maxTokens: 80, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      expect(countTokens(chunk.content)).toBeLessThanOrEqual(80);
      expect(chunk.heading).toBe('Medicines');
    }
    // Whole paragraphs: no chunk starts or ends inside one.
    expect(chunks.map((chunk) => chunk.content).join('\n\n')).toBe(blocks.slice(1).map((block) => block.text).join('\n\n'));
  });

  it('when consecutive chunks share a section, then the next opens with the last sentence of the one before; never across headings', () => {
    const chunks = chunkDocument(
      { title: 'T', blocks: [heading(2, 'A'), paragraph(sentences(12, 'injections')), heading(2, 'B'), paragraph(sentences(2, 'scans'))] },
      { maxTokens: 60, overlapTokens: 20 },
    );
    const inA = chunks.filter((chunk) => chunk.heading === 'A');
    expect(inA.length).toBeGreaterThan(2);
    for (let index = 1; index < inA.length; index++) {
      const lastSentence = /Sentence \d+ [^.]*\.$/.exec(inA[index - 1]!.content)![0];
      expect(inA[index]!.content.startsWith(lastSentence)).toBe(true);
    }
    expect(chunks.find((chunk) => chunk.heading === 'B')!.content).toMatch(/^Sentence 1 is about scans/);
  });

  it('when a single sentence or word is longer than a chunk, then it is cut to fit', () => {
    const chunks = chunkDocument({ title: 'T', blocks: [paragraph(`${'word '.repeat(500)}${'x'.repeat(3000)}`)] }, { maxTokens: 50, overlapTokens: 10 });
    for (const chunk of chunks) expect(countTokens(chunk.content)).toBeLessThanOrEqual(50);
    expect(chunks.map((chunk) => chunk.content).join('').replace(/\s/g, '')).toContain('x'.repeat(3000));
  });

  it('when the title changes, then every content hash changes; the same text hashes the same', () => {
    const blocks = [paragraph('Same words.')];
    const [first] = chunkDocument({ title: 'One', blocks });
    const [again] = chunkDocument({ title: 'One', blocks });
    const [renamed] = chunkDocument({ title: 'Two', blocks });
    expect(again!.contentHash).toBe(first!.contentHash);
    expect(renamed!.contentHash).not.toBe(first!.contentHash);
    expect(first!.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('whatever the text, every chunk is within the limit and every word is kept, in order', () => {
    const word = fc.stringMatching(/^[a-zA-Z0-9é😀]{1,12}$/);
    const sentence = fc.array(word, { minLength: 1, maxLength: 30 }).map((words) => `${words.join(' ')}.`);
    const block = fc.oneof(
      fc.array(sentence, { minLength: 1, maxLength: 8 }).map((parts): Block => paragraph(parts.join(' '))),
      fc.tuple(fc.integer({ min: 1, max: 4 }), word).map(([level, text]): Block => heading(level, text)),
    );
    fc.assert(
      fc.property(fc.array(block, { maxLength: 12 }), fc.integer({ min: 20, max: 120 }), (blocks, maxTokens) => {
        const chunks = chunkDocument({ title: 'T', blocks }, { maxTokens, overlapTokens: 0 });
        for (const chunk of chunks) expect(countTokens(chunk.content)).toBeLessThanOrEqual(maxTokens);
        const words = (text: string) => text.split(/\s+/).filter(Boolean);
        const input = blocks.filter((b) => b.kind === 'paragraph').flatMap((b) => words(b.text));
        expect(chunks.flatMap((chunk) => words(chunk.content)).join(' ').replace(/\s/g, '')).toBe(input.join('').replace(/\s/g, ''));
      }),
      { numRuns: 150 },
    );
  });
});
