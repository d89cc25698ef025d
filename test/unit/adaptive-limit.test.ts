import { describe, expect, it } from 'vitest';

import { createAdaptiveLimit } from '../../src/ai/adaptive-limit.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('createAdaptiveLimit', () => {
  it('when told to slow down, then fewer tasks run at once; successes grow it back to the maximum', async () => {
    const limit = createAdaptiveLimit(4);
    limit.slowDown();
    limit.slowDown();
    expect(limit.concurrency).toBe(1);
    limit.slowDown();
    expect(limit.concurrency).toBe(1);

    const started: number[] = [];
    const gates = [deferred(), deferred()];
    const tasks = gates.map((gate, index) =>
      limit.run(async () => {
        started.push(index);
        await gate.promise;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0]);
    gates[0]!.resolve();
    await tasks[0];
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1]);
    gates[1]!.resolve();
    await Promise.all(tasks);

    for (let index = 0; index < 20; index++) await limit.run(async () => undefined);
    expect(limit.concurrency).toBe(4);
  });

  it('when a task fails, then its slot is given back', async () => {
    const limit = createAdaptiveLimit(1);
    await expect(limit.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limit.run(async () => 'next')).resolves.toBe('next');
  });
});
