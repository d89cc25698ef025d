import { describe, expect, it } from 'vitest';

import { createOpenAILimiter } from '../../src/ai/openai-limiter.ts';

/** A call that runs until released, recording when it started. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return { call: async () => { log.push(name); await done; return name; }, release };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('createOpenAILimiter', () => {
  it('when more calls arrive than the cap, then no more than the cap run at once, in arrival order', async () => {
    const limit = createOpenAILimiter(2);
    const started: string[] = [];
    const gates = ['a', 'b', 'c', 'd'].map((name) => gate(started, name));
    const results = gates.map((g) => limit(g.call));
    await settle();
    expect(started).toEqual(['a', 'b']);
    gates[0]!.release();
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    for (const g of gates) g.release();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('when an urgent call arrives behind queued ordinary calls, then it runs as soon as a slot frees, before them', async () => {
    const limit = createOpenAILimiter(1);
    const started: string[] = [];
    const first = gate(started, 'answer 1');
    const queued = [gate(started, 'answer 2'), gate(started, 'answer 3')];
    const urgent = gate(started, 'triage');
    const all = [limit(first.call), ...queued.map((g) => limit(g.call)), limit(urgent.call, { urgent: true })];
    await settle();
    expect(started).toEqual(['answer 1']);
    first.release();
    await settle();
    expect(started).toEqual(['answer 1', 'triage']);
    urgent.release();
    await settle();
    expect(started).toEqual(['answer 1', 'triage', 'answer 2']);
    for (const g of queued) g.release();
    await Promise.all(all);
  });

  it('when calls fail, then their slots are given back', async () => {
    const limit = createOpenAILimiter(1);
    await expect(limit(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(limit(async () => { throw new Error('boom'); }, { urgent: true })).rejects.toThrow('boom');
    expect(await limit(async () => 'ok')).toBe('ok');
  });
});

describe('createOpenAILimiter: a cap that changes (this instance\'s share of the deployment\'s)', () => {
  it('when the cap is 0, then calls wait; when it grows, they start; when it shrinks, calls in flight finish and fewer start', async () => {
    const limit = createOpenAILimiter(0);
    const started: string[] = [];
    const gates = ['a', 'b', 'c', 'd'].map((name) => gate(started, name));
    const results = gates.map((g) => limit(g.call));
    await settle();
    expect(started).toEqual([]);
    limit.setConcurrency(3);
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    expect(limit.inFlight).toBe(3);
    limit.setConcurrency(1);
    gates[0]!.release();
    gates[1]!.release();
    await settle();
    // Two finished, one still runs: at the new cap of 1, d waits.
    expect(started).toEqual(['a', 'b', 'c']);
    expect(limit.inFlight).toBe(1);
    gates[2]!.release();
    await settle();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    gates[3]!.release();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
    expect(limit.inFlight).toBe(0);
  });
});
