// npx tsx bench/diagnose-ack.ts [rate=500] [seconds=10] [busy|stopped]
//
// Where slow webhook acknowledgements come from (BENCHMARKS.md, "Why the acknowledgement target is
// missed"). Runs scenario 1 at one rate, with the pipeline busy, and lines up, 200 ms at a time, the
// slowest acknowledgement with what else happened then: the slowest inbox.enqueue (the database
// thread), the longest garbage collection and the event loop's longest delay on the main thread.
// A diagnostic, not a benchmark: the tracing costs a little itself.
import { PerformanceObserver } from 'node:perf_hooks';

import { waitFor } from '../test/fakes/wait-for.ts';
import { knowledgeFixture } from './knowledge-fixture.ts';
import { prepareOpenLoop } from './open-loop.ts';
import { startBenchService } from './start-bench-service.ts';
import { startFakes } from './start-fakes.ts';
import { summarize } from './stats.ts';

const rate = Number(process.argv[2] ?? 500);
const seconds = Number(process.argv[3] ?? 10);
/** 'stopped': the worker is stopped after the warm-up, so the webhooks have the database to themselves. */
const pipeline = process.argv[4] === 'stopped' ? 'stopped' : 'busy';
const BUCKET_MS = 200;

const fakes = await startFakes({ embeddingMs: 0, chatMs: 0, triageMs: 0, sendMs: 0 });
const knowledge = await knowledgeFixture(fakes);
await fakes.configure({ embeddingMs: 150, chatMs: 1200, triageMs: 400, sendMs: 80 });
// DATA_DIR=<directory> runs the embedded database on disk instead of in memory.
const dataDir: Record<string, string> = process.env.DATA_DIR ? { DATA_DIR: process.env.DATA_DIR } : {};
const service = await startBenchService({ ...fakes.env, ...dataDir, OPENAI_MAX_CONCURRENCY: '4', SHUTDOWN_TIMEOUT_MS: '1000' }, { knowledge });
const plan = { url: `${service.url}/webhooks/twilio`, authToken: fakes.twilio.authToken, timeoutMs: 15_000, patients: 2000 };
try {
  // Warm up as scenario 1 does.
  const warmUp = await prepareOpenLoop({ ...plan, rate: 200, requests: 2000, firstPatient: 900_000 });
  await warmUp.go();
  await warmUp.close();
  await waitFor(async () => (await fakes.stats()).twilio.messages >= 4, { timeoutMs: 60_000, what: 'the first replies' });
  if (pipeline === 'stopped') await service.worker.stop(1_000);

  const events: { kind: 'gc' | 'loop' | 'enqueue'; at: number; ms: number }[] = [];
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) events.push({ kind: 'gc', at: performance.timeOrigin + entry.startTime, ms: entry.duration });
  });
  gc.observe({ entryTypes: ['gc'] });
  let tick = performance.now();
  const loop = setInterval(() => {
    const now = performance.now();
    events.push({ kind: 'loop', at: performance.timeOrigin + now, ms: now - tick - 2 });
    tick = now;
  }, 2);
  const enqueue = service.inbox.enqueue;
  service.inbox.enqueue = async (...args) => {
    const started = performance.now();
    try {
      return await enqueue(...args);
    } finally {
      events.push({ kind: 'enqueue', at: performance.timeOrigin + started, ms: performance.now() - started });
    }
  };

  const generator = await prepareOpenLoop({ ...plan, rate, requests: rate * seconds, firstPatient: 0 });
  const result = await generator.go();
  await generator.close();
  clearInterval(loop);
  gc.disconnect();

  const of = (kind: string) => events.filter((event) => event.kind === kind).map((event) => event.ms);
  const line = (label: string, values: number[]) => {
    const s = summarize(values);
    console.log(`${label.padEnd(28)} p50 ${s.p50.toFixed(1).padStart(6)}  p99 ${s.p99.toFixed(1).padStart(6)}  max ${s.max.toFixed(1).padStart(6)} ms  (${values.length})`);
  };
  console.log(`${rate} webhooks a second for ${seconds} s, pipeline ${pipeline === 'busy' ? 'busy (OPENAI_MAX_CONCURRENCY 4)' : 'stopped'}`);
  line('acknowledgement', result.latencyMs);
  line('inbox.enqueue (database)', of('enqueue'));
  line('garbage collection', of('gc'));
  line('event-loop delay (2 ms timer)', of('loop'));

  // Requests go out on schedule (the generator's lag is small), so request i was sent at i / rate.
  const buckets = new Map<number, { ack: number; enqueue: number; gc: number; loop: number; slow: number }>();
  const bucketOf = (at: number) => Math.floor((at - result.startedAt) / BUCKET_MS);
  const bucket = (key: number) => buckets.get(key) ?? buckets.set(key, { ack: 0, enqueue: 0, gc: 0, loop: 0, slow: 0 }).get(key)!;
  result.latencyMs.forEach((ms, index) => {
    const entry = bucket(bucketOf(result.startedAt + (index * 1000) / rate));
    entry.ack = Math.max(entry.ack, ms);
    if (ms > 10) entry.slow++;
  });
  for (const event of events) {
    const entry = buckets.get(bucketOf(event.at));
    if (entry) entry[event.kind === 'enqueue' ? 'enqueue' : event.kind] = Math.max(entry[event.kind === 'enqueue' ? 'enqueue' : event.kind], event.ms);
  }
  console.log(`\n${BUCKET_MS} ms windows with an acknowledgement over 20 ms: the slowest of each kind in the window`);
  console.log('    at   ack  >10ms  enqueue    gc  loop delay');
  for (const [key, entry] of [...buckets.entries()].sort((a, b) => a[0] - b[0])) {
    if (entry.ack <= 20) continue;
    const cell = (value: number, width: number) => value.toFixed(0).padStart(width);
    console.log(`${((key * BUCKET_MS) / 1000).toFixed(1).padStart(5)}s ${cell(entry.ack, 5)} ${cell(entry.slow, 6)} ${cell(entry.enqueue, 8)} ${cell(entry.gc, 5)} ${cell(entry.loop, 11)}`);
  }
} finally {
  await service.stop();
  await fakes.close();
}
