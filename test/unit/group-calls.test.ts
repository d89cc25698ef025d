import { describe, expect, it } from 'vitest';

import { groupCalls } from '../../src/store/group-calls.ts';

/** A fake round trip that records what went out together, and answers when told to. */
function recorder(options: { failBatchesWith?: string; badItem?: number; outage?: boolean } = {}) {
  const sent: number[][] = [];
  const release: (() => void)[] = [];
  const roundTrip = async (items: number[]) => {
    sent.push(items);
    await new Promise<void>((resolve) => release.push(resolve));
    if (options.outage) throw new Error('database unreachable');
    if (items.length > 1 && options.failBatchesWith && items.includes(options.badItem!)) throw new Error(options.failBatchesWith);
    if (items.length === 1 && items[0] === options.badItem) throw new Error(`item ${items[0]} is bad`);
    return items.map((item) => item * 10);
  };
  const call = groupCalls<number, number>({
    one: async (item) => (await roundTrip([item]))[0]!,
    many: roundTrip,
    maxBatch: 3,
    isolate: (error) => (error as Error).message !== 'database unreachable',
  });
  /** Lets the oldest round trip answer, once it has gone out. */
  const answerNext = async () => {
    while (release.length === 0) await new Promise((resolve) => setImmediate(resolve));
    release.shift()!();
  };
  return { call, sent, answerNext };
}

describe('groupCalls', () => {
  it('when calls are made together, then they go out together, in order, at most maxBatch at a time', async () => {
    const { call, sent, answerNext } = recorder();
    const results = [1, 2, 3, 4, 5].map((item) => call(item));
    await answerNext();
    await answerNext();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50]);
    expect(sent).toEqual([[1, 2, 3], [4, 5]]);
  });

  it('when calls arrive while one is in flight, then they go out together after it', async () => {
    const { call, sent, answerNext } = recorder();
    const first = call(1);
    await new Promise((resolve) => setImmediate(resolve));
    const later = [2, 3].map((item) => call(item));
    await answerNext();
    await answerNext();
    expect(await Promise.all([first, ...later])).toEqual([10, 20, 30]);
    expect(sent).toEqual([[1], [2, 3]]);
  });

  it('when nothing is in flight, then a call goes out at once, on its own', async () => {
    const { call, sent, answerNext } = recorder();
    const first = call(7);
    await answerNext();
    expect(await first).toBe(70);
    const second = call(8);
    await answerNext();
    expect(await second).toBe(80);
    expect(sent).toEqual([[7], [8]]);
  });

  it('when a batch fails, then each of its items is tried alone, and only the bad one fails, with its own error', async () => {
    const { call, sent, answerNext } = recorder({ failBatchesWith: 'batch rolled back', badItem: 3 });
    const results = [1, 2, 3, 4].map((item) => call(item).catch((error: Error) => error.message));
    for (let index = 0; index < 5; index++) await answerNext();
    expect(await Promise.all(results)).toEqual([10, 20, 'item 3 is bad', 40]);
    expect(sent).toEqual([[1, 2, 3], [1], [2], [3], [4]]);
  });

  it('when a batch fails for a reason of the moment (the database is unreachable), then each of its calls fails with it at once, none is tried alone', async () => {
    const { call, sent, answerNext } = recorder({ outage: true });
    const results = [1, 2, 3].map((item) => call(item).catch((error: Error) => error.message));
    await answerNext();
    expect(await Promise.all(results)).toEqual(['database unreachable', 'database unreachable', 'database unreachable']);
    expect(sent).toEqual([[1, 2, 3]]);
  });

  it('when the database goes away while a failed batch is retried item by item, then the rest fail with it at once', async () => {
    const tried: number[] = [];
    const outage = Object.assign(new Error('database unreachable'), { retryable: true });
    let release!: () => void;
    const firstInFlight = new Promise<void>((resolve) => (release = resolve));
    const call = groupCalls<number, number>({
      one: async (item) => {
        tried.push(item);
        if (item === 1) await firstInFlight;
        if (item === 3) throw outage;
        return item * 10;
      },
      many: async () => {
        throw new Error('bad content in the batch');
      },
      maxBatch: 10,
      isolate: (error) => !(error as { retryable?: boolean }).retryable,
    });
    const results = [1, 2, 3, 4, 5].map((item) => call(item).catch((error: Error) => error.message));
    release();
    expect(await Promise.all(results)).toEqual([10, 20, 'database unreachable', 'database unreachable', 'database unreachable']);
    expect(tried).toEqual([1, 2, 3]);
  });
});
