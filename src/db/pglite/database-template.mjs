// A new embedded database starts as a copy of a template: an empty Postgres data directory made once,
// by Postgres' initdb, in a process of its own.
//
// initdb in PGlite runs two more WebAssembly instances beside the database's own: about 770 MB at its
// peak (VmHWM) and 3.5 s, where opening an existing directory takes 170 MB and 0.4 s. A WebAssembly
// heap never shrinks, so the process that ran initdb keeps much of that. A template made by
// `npm install` (postinstall), or else once by a short-lived child process, means neither the service
// nor `npm run ingest` ever runs initdb: a new data directory is a copy of files.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Postgres' own startup settings for this workload; the template is made with the same. */
export const START_SETTINGS = [
  // Postgres' defaults (128 MB of shared buffers, 64 MB for maintenance) cost about 150 MB of resident
  // memory in WebAssembly for nothing; the data files stay in the operating system's cache anyway.
  '-c', 'shared_buffers=16MB', '-c', 'maintenance_work_mem=16MB', '-c', 'temp_buffers=2MB', '-c', 'wal_buffers=1MB',
];

/** Where the template lives: per PGlite build, so that an upgrade never opens another version's files. */
export function templateDirectory() {
  const { version } = JSON.parse(readFileSync(join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json'), 'utf8'));
  return join(projectRoot, 'node_modules', '.cache', 'clinic-assistant', `pglite-${version}-template`);
}

/**
 * Whether `dir` holds a Postgres data directory.
 * @param {string} dir
 */
export function isDataDirectory(dir) {
  return existsSync(join(dir, 'PG_VERSION'));
}

/**
 * Creates the data directory `dataDir` as a copy of the template, making the template first when
 * there is none (in a child process that then ends). Where the template cannot be kept (a read-only
 * node_modules), the child process creates `dataDir` itself.
 * @param {string} dataDir
 * @param {string} [template] the template's directory (tests)
 */
export async function createFromTemplate(dataDir, template = templateDirectory()) {
  // An empty folder is taken; anything else that is not a database is not ours to replace.
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new Error(`DATA_DIR ${dataDir} is not empty and holds no database: point DATA_DIR at a new or empty folder`);
  }
  if (!isDataDirectory(template)) {
    try {
      await createInChildProcess(template);
    } catch (error) {
      console.error(`could not keep the embedded database template in ${template} (${error instanceof Error ? error.message : error}); creating ${dataDir} directly`);
      await createInChildProcess(dataDir);
      return;
    }
  }
  mkdirSync(dirname(dataDir), { recursive: true });
  // Copied under another name and renamed: a start killed half-way leaves no directory that looks
  // like a database (PG_VERSION is what tells a database from an empty folder).
  const partial = `${dataDir.replace(/\/+$/, '')}.creating-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  cpSync(template, partial, { recursive: true });
  if (existsSync(dataDir)) rmdirSync(dataDir);
  renameSync(partial, dataDir);
}

/**
 * Runs initdb for `dir` in a child process (this file run as a script).
 * @param {string} dir
 */
function createInChildProcess(dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(undefined) : reject(new Error(`creating the database in ${dir} failed (exit code ${code}): ${stderr.trim()}`))));
  });
}

/**
 * The child process: initdb into a temporary directory beside `dir`, then renamed into place.
 * @param {string} dir
 */
async function createDataDirectory(dir) {
  const { PGlite } = await import('@electric-sql/pglite');
  mkdirSync(dirname(dir), { recursive: true });
  const partial = `${dir.replace(/\/+$/, '')}.initdb-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  const db = await PGlite.create({ dataDir: partial, startParams: [...PGlite.defaultStartParams, ...START_SETTINGS] });
  await db.close();
  try {
    renameSync(partial, dir);
  } catch (error) {
    // Another process made it meanwhile: theirs is as good.
    rmSync(partial, { recursive: true, force: true });
    if (!isDataDirectory(dir)) throw error;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `node database-template.mjs [dir]`: the child process above, and `npm install`'s postinstall
  // (no argument: the template), where a failure only warns: the service makes it when first needed.
  const dir = process.argv[2];
  try {
    if (!isDataDirectory(dir ?? templateDirectory())) await createDataDirectory(dir ?? templateDirectory());
  } catch (error) {
    console.error(`${dir ? '' : 'postinstall: '}could not create the embedded database${dir ? '' : ' template (it will be made on first start)'}: ${error instanceof Error ? error.message : error}`);
    process.exitCode = dir ? 1 : 0;
  }
}
