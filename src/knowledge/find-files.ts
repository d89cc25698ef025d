import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

export type FoundFiles = {
  /** Files to read, sorted by source. */
  files: { path: string; source: string }[];
  /** Sources of the folders given, and of given paths that do not exist: the scope of --prune. */
  scopes: { source: string; folder: boolean }[];
  /** Given paths that could not be used, with the reason. */
  problems: { source: string; reason: string }[];
};

/**
 * The files under the given paths (files or folders, walked recursively; names starting with a dot
 * and node_modules are passed over). Each file's source, the key of its document, is its path
 * relative to `cwd` with `/` separators: `npm run ingest -- knowledge` from the project root and the
 * first start with KNOWLEDGE_DIR=knowledge give the same keys.
 */
export async function findFiles(paths: string[], cwd: string): Promise<FoundFiles> {
  const found: FoundFiles = { files: [], scopes: [], problems: [] };
  const seen = new Set<string>();
  const toSource = (path: string) => relative(cwd, path).split(sep).join('/') || '.';

  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile())) add(path);
    }
  };
  const add = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    found.files.push({ path, source: toSource(path) });
  };

  for (const given of paths) {
    const path = isAbsolute(given) ? given : resolve(cwd, given);
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => error);
    if (info instanceof Error) {
      if (info.code === 'ENOENT') found.scopes.push({ source: toSource(path), folder: false });
      found.problems.push({ source: toSource(path), reason: info.code === 'ENOENT' ? 'no such file or folder' : info.message });
    } else if (info.isDirectory()) {
      found.scopes.push({ source: toSource(path), folder: true });
      await walk(path);
    } else {
      add(path);
    }
  }
  found.files.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  return found;
}
