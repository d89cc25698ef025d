import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

export type FoundFiles = {
  /** Files to read, sorted by source. `path` is where to read it: a symbolic link already resolved. */
  files: { path: string; source: string }[];
  /** Sources of the folders given, and of given paths that do not exist: the scope of --prune. */
  scopes: { source: string; folder: boolean }[];
  /** Given paths, and symbolic links found in given folders, that could not be used, with the reason. */
  problems: { source: string; reason: string }[];
};

/**
 * The files under the given paths (files or folders, walked recursively; names starting with a dot
 * and node_modules are passed over). Each file's source, the key of its document, is its path
 * relative to `cwd` with `/` separators: `npm run ingest -- knowledge` from the project root and the
 * first start with KNOWLEDGE_DIR=knowledge give the same keys.
 *
 * Symbolic links inside a given folder are followed only while they stay inside it: whoever can drop
 * a file into the knowledge folder (a shared drive, a synced folder) must not be able to point it at
 * `.env` or a patient export and have the assistant quote that to patients. A link out of the folder,
 * a broken link and a link loop are listed as problems. Every real folder is walked once and every
 * real file read once, so a link back up the tree ends; links are followed after the folders
 * themselves, so a file reached both ways keeps its own path as its key, whatever the links are named.
 */
export async function findFiles(paths: string[], cwd: string): Promise<FoundFiles> {
  const found: FoundFiles = { files: [], scopes: [], problems: [] };
  const readFiles = new Set<string>();
  const walkedFolders = new Set<string>();
  const toSource = (path: string) => relative(cwd, path).split(sep).join('/') || '.';

  const addFile = (path: string, real: string) => {
    if (readFiles.has(real)) return;
    readFiles.add(real);
    found.files.push({ path: real, source: toSource(path) });
  };

  /** Walks a folder whose real path is `real`; returns the symbolic links met, to be followed later. */
  const walk = async (folder: string, real: string): Promise<string[]> => {
    if (walkedFolders.has(real)) return [];
    walkedFolders.add(real);
    const links: string[] = [];
    const entries = (await readdir(folder, { withFileTypes: true })).sort(byName);
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(folder, entry.name);
      if (entry.isSymbolicLink()) links.push(path);
      else if (entry.isDirectory()) links.push(...(await walk(path, join(real, entry.name))));
      else if (entry.isFile()) addFile(path, join(real, entry.name));
    }
    return links;
  };

  const follow = async (link: string, root: string): Promise<string[]> => {
    const target = await realpath(link).catch((error: NodeJS.ErrnoException) => error);
    if (target instanceof Error) {
      const reason = target.code === 'ELOOP' ? 'symbolic link loop' : target.code === 'ENOENT' ? 'broken symbolic link' : target.message;
      found.problems.push({ source: toSource(link), reason });
      return [];
    }
    if (!isInside(target, root)) {
      found.problems.push({ source: toSource(link), reason: 'symbolic link out of the folder given: not followed' });
      return [];
    }
    const info = await stat(target);
    if (info.isDirectory()) return walk(link, target);
    if (info.isFile()) addFile(link, target);
    return [];
  };

  for (const given of paths) {
    const path = isAbsolute(given) ? given : resolve(cwd, given);
    // The path given is the operator's own choice: a link there is followed wherever it points.
    const real = await realpath(path).catch((error: NodeJS.ErrnoException) => error);
    const info = real instanceof Error ? real : await stat(real);
    if (info instanceof Error) {
      if (info.code === 'ENOENT') found.scopes.push({ source: toSource(path), folder: false });
      found.problems.push({ source: toSource(path), reason: info.code === 'ENOENT' ? 'no such file or folder' : info.message });
    } else if (info.isDirectory()) {
      found.scopes.push({ source: toSource(path), folder: true });
      const root = real as string;
      const links = await walk(path, root);
      // Following a link may find more links; each real folder is walked once, so this ends.
      while (links.length > 0) links.push(...(await follow(links.shift()!, root)));
    } else {
      addFile(path, real as string);
    }
  }
  found.files.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  found.problems.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  return found;
}

function byName(a: Dirent, b: Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Whether `path` is `folder` or lies under it; both are real paths. */
function isInside(path: string, folder: string): boolean {
  const rest = relative(folder, path);
  return rest === '' || (!rest.startsWith(`..${sep}`) && rest !== '..' && !isAbsolute(rest));
}
