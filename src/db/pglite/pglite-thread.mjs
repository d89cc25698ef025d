// The embedded Postgres, on a worker thread of its own.
//
// PGlite runs every query synchronously on the thread that calls it (Postgres compiled to
// WebAssembly), so on the main thread a slow query or a big ingestion would hold up every webhook.
// Here it gets its own thread and event loop; the main thread talks to it by messages
// (see pglite-database.ts). Plain JavaScript so that it loads the same under node, tsx and vitest.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

import { START_SETTINGS, createFromTemplate, isDataDirectory } from './database-template.mjs';

if (!parentPort) throw new Error('pglite-thread.mjs must run as a worker thread');
const port = parentPort;

/** @type {{ dataDir: string, loadDataDir?: Uint8Array }} */
const options = workerData;

/**
 * A new database on disk is a copy of the template (see database-template.mjs). memory:// is made by
 * PGlite itself, from a given tar (test fixtures) or by its own initdb.
 */
async function created() {
  if (options.dataDir === 'memory://' || options.loadDataDir || isDataDirectory(options.dataDir)) return;
  await createFromTemplate(options.dataDir);
}

const ready = created().then(async () => PGlite.create({
  dataDir: options.dataDir,
  extensions: { vector },
  startParams: [...PGlite.defaultStartParams, ...START_SETTINGS],
  ...(options.loadDataDir ? { loadDataDir: new Blob([options.loadDataDir]) } : {}),
})).then(async (db) => {
  // Postgres writes 16 MB of zeros into each new WAL segment; in WebAssembly that held the thread,
  // and every webhook waiting on it, for 60-100 ms once every 10,000 or so messages (npm run bench).
  // The zeros only reserve disk space ahead of time: WAL records carry their own checksums, recycled
  // segments are not zeroed either, and PGlite runs with fsync off.
  await db.exec('set wal_init_zero = off');
  // call() sends its arguments as literals quoted for this setting (the default; set here so that
  // nothing else can change how they are read).
  await db.exec('set standard_conforming_strings = on');
  return db;
});

// PGlite is Postgres in single-user mode, without autovacuum: left alone, no table is ever analyzed
// and the planner takes every table for nearly empty. With a thousand messages pending, that made the
// inbox claim a nested loop over the whole backlog, 250 ms a claim instead of 10, with every webhook
// queued behind it (measured with npm run bench). So this thread does the analyze half of
// autovacuum's job: every 2 s it looks (in under a millisecond) for tables never analyzed or changed by
// as many rows as they hold (50 at least) since, and analyzes them on a small sample. A growing table
// is analyzed at each doubling, a handful of times in all, for about 20 ms each.
const ANALYZE_CHECK_INTERVAL_MS = 2_000;
const STALE_TABLES = `
  select format('public.%I', relname) as name
  from pg_class
  where relnamespace = 'public'::regnamespace and relkind = 'r'
    and (reltuples < 0 or pg_stat_get_mod_since_analyze(oid) >= greatest(50, reltuples))`;
let nextAnalyzeCheck = Date.now();
let closing = false;

/** @param {import('@electric-sql/pglite').PGlite} db */
async function analyzeStaleTables(db) {
  const { rows } = await db.query(STALE_TABLES);
  for (const { name } of /** @type {{ name: string }[]} */ (rows)) {
    // A sample of 3,000 rows (target 10) is plenty for these plans, and a tenth of the default's cost.
    try {
      await db.exec(`begin; set local default_statistics_target = 10; analyze ${name}; commit;`);
    } catch (error) {
      // A failed analyze (the table was dropped meanwhile) must not leave the one session this
      // database has inside an aborted transaction, refusing every later query.
      await db.exec('rollback');
      throw error;
    }
  }
}

/**
 * Once the service is ready, this thread runs at a lower priority (nice 10) than the main thread, which
 * answers webhooks: on two cores shared with the worker's pipeline and V8's own threads, a webhook's
 * 200 then no longer waits for a core this thread holds. Webhooks do not wait for this thread's work
 * (they are journaled, see src/intake), and it still gets a core whenever the main thread is idle.
 * Measured with npm run bench (BENCHMARKS.md, table 1): p99 at 500/s 40-46 ms → 16-22 ms. Not before
 * ready: at nice 10 from the start, a new data directory was ready in 10.5 s instead of 9.2-9.5.
 * Linux: /proc/thread-self names this thread's id, and setpriority() on a thread id changes that thread
 * alone. Elsewhere it stays as it is.
 */
function lowerPriority() {
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10);
  } catch {
    // Not Linux, or not allowed: the same priority as the main thread.
  }
}

/** @param {unknown} error */
function describe(error) {
  const e = /** @type {Record<string, unknown>} */ (error ?? {});
  return {
    message: error instanceof Error ? error.message : String(error),
    code: typeof e.code === 'string' ? e.code : undefined,
    detail: typeof e.detail === 'string' ? e.detail : undefined,
    hint: typeof e.hint === 'string' ? e.hint : undefined,
  };
}

port.on('message', async (/** @type {{ id: number, op: string, sql?: string, params?: unknown[] }} */ request) => {
  try {
    const db = await ready;
    let result;
    if (request.op === 'query') {
      result = (await db.query(request.sql ?? '', request.params ?? [])).rows;
    } else if (request.op === 'simple') {
      // One statement through the simple protocol: a single trip into WebAssembly.
      const [first] = await db.exec(request.sql ?? '');
      result = first?.rows ?? [];
    } else if (request.op === 'exec') {
      await db.exec(request.sql ?? '');
      result = null;
    } else if (request.op === 'dump') {
      const file = await db.dumpDataDir('none');
      result = new Uint8Array(await file.arrayBuffer());
    } else if (request.op === 'lower-priority') {
      lowerPriority();
      result = null;
    } else if (request.op === 'close') {
      closing = true;
      await db.close();
      result = null;
    } else {
      throw new Error(`unknown operation ${request.op}`);
    }
    port.postMessage({ id: request.id, ok: true, result });
  } catch (error) {
    port.postMessage({ id: request.id, ok: false, error: describe(error) });
  }
  if (!closing && Date.now() >= nextAnalyzeCheck) {
    nextAnalyzeCheck = Date.now() + ANALYZE_CHECK_INTERVAL_MS;
    // Best effort: a failed analyze leaves the old statistics, and the next check tries again.
    ready.then(analyzeStaleTables).catch(() => undefined);
  }
});
