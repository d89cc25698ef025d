// Compiles src/ to build/ for `npm start`: plain JavaScript that Node runs without a TypeScript loader.
//
// `node --import tsx` keeps a loader thread (a second JavaScript engine) alive for the life of the
// process: about 30 MB of a server's resident memory for nothing once started (npm run bench -- --only
// memory). esbuild only strips the types, file by file (a fraction of a second); `npm run typecheck`
// is what checks them. With --if-stale it builds only when a file under src/ is newer than the last
// build, so `npm start` after an edit runs the edit.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src');
const output = join(root, 'build');
const stamp = join(output, '.built');

/** @param {string} dir @returns {string[]} */
function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

const files = filesUnder(source);
if (process.argv.includes('--if-stale') && existsSync(stamp)) {
  const built = statSync(stamp).mtimeMs;
  if (files.every((file) => statSync(file).mtimeMs <= built)) process.exit(0);
}

rmSync(output, { recursive: true, force: true });
const scripts = files.filter((file) => file.endsWith('.ts'));
const result = await build({
  entryPoints: scripts,
  outbase: source,
  outdir: output,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  write: false,
  logLevel: 'warning',
});
for (const file of result.outputFiles) {
  mkdirSync(dirname(file.path), { recursive: true });
  // Imports name their files as written (`./inbox.ts`); the compiled files are .js.
  writeFileSync(file.path, file.text.replace(/((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']*?)\.ts\2/g, '$1$2$3.js$2'));
}
// Everything else (the database threads' .mjs, the staff console's page) is used as it is.
for (const file of files.filter((file) => !file.endsWith('.ts'))) {
  cpSync(file, join(output, relative(source, file)));
}
writeFileSync(stamp, '');
console.error(`built ${scripts.length} files into ${relative(process.cwd(), output) || '.'}`);
