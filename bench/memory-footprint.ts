import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { startFakePostgrest } from '../test/fakes/fake-postgrest.ts';
import { prepareOpenLoop } from './open-loop.ts';
import type { BenchOptions } from './options.ts';
import { memoryOf, runSampled, sampleMemory, startServiceProcess, type Memory } from './service-process.ts';
import type { Fakes } from './start-fakes.ts';

export type MemoryFootprint = {
  /** What is measured: a fresh on-disk data directory, then the same one reopened, then Supabase. */
  rows: { case: string; readyMs?: number; idle?: Memory; underLoad?: Memory & { rate: number; seconds: number; errors: number }; run?: Memory & { ms: number } }[];
};

/** Idle is measured this long after the first 200 of /readyz, as an operator would look at a started server. */
const SETTLE_MS = 5_000;

/**
 * Scenario 7. Memory as an operator measures it: the service started as `npm start` starts it (its own
 * process), resident memory read from /proc (VmRSS, VmHWM) of that process and any it starts, its
 * worker threads included. Offline answers (no OpenAI key), the sample documents, replies to the fake
 * Twilio. Embedded: a new data directory on disk, idle and under load; the same directory reopened;
 * `npm run ingest` of the sample documents into a new one. External: on Supabase (the PostgREST fake,
 * in this process), idle.
 */
export async function memoryFootprint(options: BenchOptions, fakes: Fakes): Promise<MemoryFootprint> {
  await fakes.configure({ embeddingMs: 0, chatMs: 0, triageMs: 0, sendMs: 0 });
  const rows: MemoryFootprint['rows'] = [];
  const dir = await mkdtemp(join(tmpdir(), 'clinic-bench-memory-'));
  const twilio = { TWILIO_ACCOUNT_SID: fakes.env.TWILIO_ACCOUNT_SID!, TWILIO_AUTH_TOKEN: fakes.env.TWILIO_AUTH_TOKEN!, TWILIO_API_BASE_URL: fakes.env.TWILIO_API_BASE_URL! };
  try {
    const dataDir = join(dir, 'data');
    const service = await startServiceProcess({ ...twilio, DATA_DIR: dataDir });
    try {
      await sleep(SETTLE_MS);
      const idle = memoryOf(service.pid);
      const { rate, seconds } = options.memory;
      const generator = await prepareOpenLoop({
        url: `${service.url}/webhooks/twilio`, authToken: fakes.twilio.authToken, timeoutMs: 15_000,
        rate, requests: rate * seconds, patients: 2_000, firstPatient: 500_000,
      });
      const sampler = sampleMemory(service.pid, 100);
      const result = await generator.go();
      await generator.close();
      const underLoad = sampler.stop();
      const errors = Object.values(result.errors).reduce((a, b) => a + b, 0) + Object.entries(result.statuses).filter(([s]) => s !== '200').reduce((a, [, n]) => a + n, 0);
      rows.push({ case: 'embedded, new data directory', readyMs: service.readyMs, idle, underLoad: { ...underLoad, rate, seconds, errors } });
    } finally {
      await service.stop();
    }

    const reopened = await startServiceProcess({ ...twilio, DATA_DIR: dataDir });
    try {
      await sleep(SETTLE_MS);
      rows.push({ case: 'embedded, data directory reopened', readyMs: reopened.readyMs, idle: memoryOf(reopened.pid) });
    } finally {
      await reopened.stop();
    }

    const ingest = await runSampled(['--import', 'tsx', 'src/cli/ingest.ts', 'knowledge'], { DATA_DIR: join(dir, 'ingest'), LOG_LEVEL: 'warn' });
    if (ingest.code !== 0) throw new Error(`npm run ingest exited with ${ingest.code}`);
    rows.push({ case: 'npm run ingest (sample documents, new data directory)', run: { ...ingest.memory, ms: ingest.ms } });

    const postgrest = await startFakePostgrest();
    try {
      const external = await startServiceProcess({ ...twilio, SUPABASE_URL: postgrest.url, SUPABASE_SERVICE_ROLE_KEY: postgrest.serviceRoleKey });
      try {
        await sleep(SETTLE_MS);
        rows.push({ case: 'Supabase (no embedded database)', readyMs: external.readyMs, idle: memoryOf(external.pid) });
      } finally {
        await external.stop();
      }
    } finally {
      await postgrest.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { rows };
}
