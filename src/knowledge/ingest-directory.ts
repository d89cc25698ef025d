import { readdir, readFile } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';

import type { Embedder } from '../ai/models.ts';
import type { Knowledge } from '../store/knowledge.ts';
import { chunkMarkdown, sha256 } from './chunk-markdown.ts';

export type IngestSummary = { added: number; changed: number; unchanged: number; chunks: number; embedded: number };

/**
 * Reads the Markdown and text files of a folder into the knowledge tables, embedding the chunks when
 * an embedder is given. Documents are keyed by their path relative to the folder; an unchanged file
 * is left alone by ingest_document.
 */
export async function ingestDirectory(directory: string, deps: { knowledge: Knowledge; embedder: Embedder | undefined; batchSize?: number }): Promise<IngestSummary> {
  const summary: IngestSummary = { added: 0, changed: 0, unchanged: 0, chunks: 0, embedded: 0 };
  const files = (await readdir(directory, { recursive: true }))
    .filter((name) => ['.md', '.markdown', '.txt'].includes(extname(name).toLowerCase()))
    .sort();
  for (const file of files) {
    const text = await readFile(join(directory, file), 'utf8');
    const { title, chunks } = chunkMarkdown(text, basename(file, extname(file)).replace(/[-_]+/g, ' '));
    const embeddings = deps.embedder ? await embedAll(deps.embedder, chunks.map((c) => `${c.title}\n${c.heading}\n${c.content}`), deps.batchSize ?? 96) : undefined;
    const result = await deps.knowledge.ingestDocument({
      source: relative(directory, join(directory, file)),
      title,
      contentHash: sha256(text),
      chunks: chunks.map((chunk, index) => ({ ...chunk, ...(embeddings ? { embedding: embeddings[index] } : {}) })),
    });
    summary[result.outcome]++;
    summary.chunks += chunks.length;
    summary.embedded += embeddings?.length ?? 0;
  }
  return summary;
}

async function embedAll(embedder: Embedder, texts: string[], batchSize: number): Promise<number[][]> {
  const batches: string[][] = [];
  for (let start = 0; start < texts.length; start += batchSize) batches.push(texts.slice(start, start + batchSize));
  // The batches run together; the shared OpenAI limiter decides how many are really in flight.
  return (await Promise.all(batches.map((batch) => embedder.embed(batch)))).flat();
}
