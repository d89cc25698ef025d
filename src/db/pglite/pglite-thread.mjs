// The embedded Postgres, on a worker thread of its own.
//
// PGlite runs every query synchronously on the thread that calls it (Postgres compiled to
// WebAssembly), so on the main thread a slow query or a big ingestion would hold up every webhook.
// Here it gets its own thread and event loop; the main thread talks to it by messages
// (see pglite-database.ts). Plain JavaScript so that it loads the same under node, tsx and vitest.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

if (!parentPort) throw new Error('pglite-thread.mjs must run as a worker thread');
const port = parentPort;

/** @type {{ dataDir: string, loadDataDir?: Uint8Array }} */
const options = workerData;

const ready = PGlite.create({
  dataDir: options.dataDir,
  extensions: { vector },
  ...(options.loadDataDir ? { loadDataDir: new Blob([options.loadDataDir]) } : {}),
});

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
    } else if (request.op === 'exec') {
      await db.exec(request.sql ?? '');
      result = null;
    } else if (request.op === 'dump') {
      const file = await db.dumpDataDir('none');
      result = new Uint8Array(await file.arrayBuffer());
    } else if (request.op === 'close') {
      await db.close();
      result = null;
    } else {
      throw new Error(`unknown operation ${request.op}`);
    }
    port.postMessage({ id: request.id, ok: true, result });
  } catch (error) {
    port.postMessage({ id: request.id, ok: false, error: describe(error) });
  }
});
