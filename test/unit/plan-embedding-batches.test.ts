import { describe, expect, it } from 'vitest';

import { OPENAI_EMBEDDING_LIMITS, planEmbeddingBatches } from '../../src/knowledge/plan-embedding-batches.ts';

const sizes = (batches: number[][]) => batches.map((batch) => batch.length);

describe('planEmbeddingBatches', () => {
  it('when there are many small inputs, then no request carries more than 2,048', () => {
    const batches = planEmbeddingBatches(new Array(5000).fill(12));
    expect(sizes(batches)).toEqual([2048, 2048, 904]);
    expect(batches.flat()).toEqual([...Array(5000).keys()]);
  });

  it('when inputs are large, then no request carries more than 300,000 tokens', () => {
    const tokens = new Array(200).fill(8000);
    const batches = planEmbeddingBatches(tokens);
    for (const batch of batches) expect(batch.reduce((sum, index) => sum + tokens[index]!, 0)).toBeLessThanOrEqual(300_000);
    expect(sizes(batches)).toEqual([37, 37, 37, 37, 37, 15]);
  });

  it('when a batch is exactly at a limit, then it is full, not split', () => {
    expect(sizes(planEmbeddingBatches([100_000, 100_000, 100_000, 1], { ...OPENAI_EMBEDDING_LIMITS, maxInputTokens: 100_000 }))).toEqual([3, 1]);
    expect(sizes(planEmbeddingBatches(new Array(2049).fill(1)))).toEqual([2048, 1]);
  });

  it('when an input is over the per-input limit, then it throws; no inputs make no batches', () => {
    expect(() => planEmbeddingBatches([10, 8193])).toThrow(/input 1 has 8193 tokens/);
    expect(planEmbeddingBatches([])).toEqual([]);
  });
});
