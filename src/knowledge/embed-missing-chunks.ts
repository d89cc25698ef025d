import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';

import type { Embedder } from '../ai/models.ts';
import { AppError, isRetryable } from '../app-error.ts';
import type { Knowledge } from '../store/knowledge.ts';
import { embeddingInput } from './embedding-input.ts';
import { planEmbeddingBatches, type EmbeddingBatchLimits } from './plan-embedding-batches.ts';
import type { ProgressReporter } from './progress-reporter.ts';

export type EmbeddingOutcome = {
  /** Chunks that got an embedding. */
  chunks: number;
  /** Texts sent (chunks with the same content hash share one). */
  inputs: number;
  tokens: number;
  /** Chunks still without an embedding when the run ended. */
  missing: number;
  /** The first error that left chunks without an embedding. */
  error: string | undefined;
};

export type EmbedMissingOptions = {
  limits?: EmbeddingBatchLimits;
  /** Chunks read per page; several batches of a page are sent together. */
  pageSize?: number;
  /** Embeddings written per database call (each is 1,536 numbers of JSON). */
  writeSize?: number;
  /** No new page starts once aborted; the batches of the current page are finished and written. */
  signal?: AbortSignal;
};

/**
 * Embeds every chunk in the database that lacks an embedding: the ones a run just wrote, and those
 * left by an interrupted run or by a run without OPENAI_API_KEY. Pages of chunks are planned into
 * batches within OpenAI's limits and the batches of a page sent at once; the shared OpenAI limiter
 * decides how many are really in flight. Each batch is written as soon as it is back, so an
 * interrupted run loses only what was in flight. A batch that keeps failing is counted and the rest
 * go on; an error no retry can cure (a bad key) stops the embedding.
 */
export async function embedMissingChunks(
  deps: { knowledge: Knowledge; embedder: Embedder; reporter?: ProgressReporter | undefined },
  options: EmbedMissingOptions = {},
): Promise<EmbeddingOutcome> {
  const { knowledge, embedder, reporter } = deps;
  const pageSize = options.pageSize ?? 8192;
  const writeSize = options.writeSize ?? 100;
  const outcome: EmbeddingOutcome = { chunks: 0, inputs: 0, tokens: 0, missing: 0, error: undefined };
  const before = await knowledge.stats();
  reporter?.embeddingsStarted(before.chunks - before.embedded);

  let stopped = false;
  for (let afterId = 0; !stopped && !options.signal?.aborted; ) {
    const rows = await knowledge.chunksMissingEmbeddings(pageSize, afterId);
    if (rows.length === 0) break;
    afterId = rows.at(-1)!.id;
    const inputs = [...new Map(rows.map((row) => [row.contentHash, embeddingInput(row)])).entries()].map(([contentHash, text]) => ({
      contentHash,
      text,
      tokens: countTokens(text),
    }));
    const batches = planEmbeddingBatches(
      inputs.map((input) => input.tokens),
      options.limits,
    ).map((indexes) => indexes.map((index) => inputs[index]!));

    await Promise.all(
      batches.map(async (batch) => {
        if (stopped || options.signal?.aborted) return;
        try {
          const vectors = await embedder.embed(batch.map((input) => input.text));
          if (vectors.length !== batch.length) {
            throw new AppError(`asked for ${batch.length} embeddings, got ${vectors.length}`, { code: 'embedding_mismatch', retryable: true });
          }
          for (let start = 0; start < batch.length; start += writeSize) {
            const items = batch.slice(start, start + writeSize).map((input, offset) => ({ contentHash: input.contentHash, embedding: vectors[start + offset]! }));
            const { updated } = await knowledge.setEmbeddings(items);
            outcome.chunks += updated;
            reporter?.embedded(updated);
          }
          outcome.inputs += batch.length;
          outcome.tokens += batch.reduce((sum, input) => sum + input.tokens, 0);
        } catch (error) {
          outcome.error ??= error instanceof Error ? error.message : String(error);
          if (!isRetryable(error)) stopped = true;
        }
      }),
    );
  }
  const after = await knowledge.stats();
  outcome.missing = after.chunks - after.embedded;
  return outcome;
}
