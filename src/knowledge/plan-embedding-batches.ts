export type EmbeddingBatchLimits = {
  /** Inputs in one request. */
  maxInputs: number;
  /** Tokens of all inputs of one request together. */
  maxTokens: number;
  /** Tokens of one input. */
  maxInputTokens: number;
};

/**
 * OpenAI's limits on one embeddings request: at most 2,048 inputs and 300,000 tokens in all, each
 * input at most 8,192 tokens (text-embedding-3-*). A request over them fails with a 400.
 */
export const OPENAI_EMBEDDING_LIMITS: EmbeddingBatchLimits = { maxInputs: 2048, maxTokens: 300_000, maxInputTokens: 8192 };

/**
 * Groups inputs, given their token counts, into as few requests as the limits allow, in order: each
 * batch is a run of consecutive indexes. An input over maxInputTokens cannot be sent at all, and
 * throws (the chunker keeps chunks far below it).
 */
export function planEmbeddingBatches(tokenCounts: readonly number[], limits: EmbeddingBatchLimits = OPENAI_EMBEDDING_LIMITS): number[][] {
  const batches: number[][] = [];
  let batch: number[] = [];
  let batchTokens = 0;
  for (const [index, tokens] of tokenCounts.entries()) {
    if (tokens > limits.maxInputTokens || tokens > limits.maxTokens) {
      throw new RangeError(`embedding input ${index} has ${tokens} tokens, over the limit of ${Math.min(limits.maxInputTokens, limits.maxTokens)}`);
    }
    if (batch.length > 0 && (batch.length >= limits.maxInputs || batchTokens + tokens > limits.maxTokens)) {
      batches.push(batch);
      batch = [];
      batchTokens = 0;
    }
    batch.push(index);
    batchTokens += tokens;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
