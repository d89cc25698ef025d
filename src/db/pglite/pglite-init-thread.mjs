// Creates a new embedded database (Postgres' initdb) on a short-lived thread of its own.
//
// initdb leaves the WebAssembly heap of the thread that ran it hundreds of megabytes larger, and a
// WebAssembly heap never shrinks: only ending the thread gives that memory back. So a new database is
// created here, this thread ends, and the database thread opens the directory it made.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

if (!parentPort) throw new Error('pglite-init-thread.mjs must run as a worker thread');

/** @type {{ dataDir: string, startParams: string[] }} */
const options = workerData;
const db = await PGlite.create({ dataDir: options.dataDir, extensions: { vector }, startParams: options.startParams });
await db.close();
parentPort.postMessage('created');
