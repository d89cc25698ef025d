import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { applyMigrations } from '../src/db/migrate.ts';
import { openPgliteDatabase, type PgliteDatabase } from '../src/db/pglite/pglite-database.ts';
import { ingestPaths } from '../src/knowledge/ingest-paths.ts';
import { createKnowledge } from '../src/store/knowledge.ts';
import { fakeEmbedder } from './fake-embedder.ts';
import { startCpuMeter, type CpuShare } from './machine.ts';
import { openMainThreadDatabase } from './main-thread-database.ts';
import type { BenchOptions } from './options.ts';
import type { Fakes } from './start-fakes.ts';
import { writeSyntheticDocuments } from './synthetic-documents.ts';

export type IngestDelay = {
  database: 'worker thread' | 'main thread (contrast)';
  embeddings: boolean;
  chunks: number;
  ingestMs: number;
  /** Event-loop delay on the main thread while ingesting (monitorEventLoopDelay, 10 ms resolution). */
  delayMs: { p50: number; p99: number; max: number };
  cpu: CpuShare;
};

/** The timer's 10 ms period is part of what the histogram records; only the excess is delay. */
const RESOLUTION_MS = 10;

/**
 * Scenario 5. The main thread's event-loop delay while ingestPaths writes synthetic documents (and,
 * with embeddings, embeds them through the fake OpenAI) into a fresh embedded database: the real one,
 * on its worker thread, and for contrast PGlite opened on the main thread itself.
 */
export async function eventLoopDuringIngest(options: BenchOptions, fakes: Fakes): Promise<IngestDelay[]> {
  await fakes.configure(options.latency);
  const directory = await mkdtemp(join(tmpdir(), 'clinic-bench-ingest-'));
  try {
    await writeSyntheticDocuments(directory, options.ingest.chunks);
    const results: IngestDelay[] = [];
    for (const database of ['worker thread', 'main thread (contrast)'] as const) {
      for (const embeddings of [false, true]) {
        const db: PgliteDatabase = database === 'worker thread' ? openPgliteDatabase({ dataDir: 'memory://' }) : await openMainThreadDatabase();
        try {
          await applyMigrations(db);
          const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
          const meter = startCpuMeter(() => [fakes.pid]);
          const started = performance.now();
          histogram.enable();
          const summary = await ingestPaths([directory], { knowledge: createKnowledge(db), embedder: embeddings ? fakeEmbedder(fakes) : undefined }, { cwd: directory });
          histogram.disable();
          const ingestMs = performance.now() - started;
          const cpu = meter.stop();
          if (embeddings && summary.missingEmbeddings > 0) throw new Error(`ingest left ${summary.missingEmbeddings} chunks without an embedding`);
          const delay = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS);
          results.push({
            database,
            embeddings,
            chunks: summary.chunksWritten,
            ingestMs,
            delayMs: { p50: delay(histogram.percentile(50)), p99: delay(histogram.percentile(99)), max: delay(histogram.max) },
            cpu,
          });
        } finally {
          await db.close();
        }
      }
    }
    return results;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
