import type { OpenAICallSpan } from './start-fakes.ts';

export type SlotUse = {
  /** From the first webhook to the first OpenAI call. */
  startMs: number;
  /** Share of cap × (first call to last answer) that calls were in flight. */
  busyShare: number;
  /** From the last moment `cap` calls were in flight to the last OpenAI answer: the run-out. */
  runOutMs: number;
};

/**
 * Where a run under a cap spends the time the bound does not count: before the first call, in slots
 * left idle while calls were in flight, and in the run-out once fewer calls than the cap remain.
 */
export function slotUse(calls: OpenAICallSpan[], cap: number, startedAt: number): SlotUse {
  const events = calls.flatMap((call) => [
    { at: call.startedAt, change: 1 },
    { at: call.endedAt, change: -1 },
  ]);
  events.sort((a, b) => a.at - b.at || a.change - b.change);
  const first = events[0]?.at ?? startedAt;
  const last = events.at(-1)?.at ?? startedAt;
  let inFlight = 0;
  let fullUntil = first;
  for (const event of events) {
    if (inFlight === cap && event.change < 0) fullUntil = event.at;
    inFlight += event.change;
  }
  const busy = calls.reduce((sum, call) => sum + (call.endedAt - call.startedAt), 0);
  return { startMs: first - startedAt, busyShare: busy / (cap * Math.max(1, last - first)), runOutMs: last - fullUntil };
}
