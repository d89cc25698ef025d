import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';

import { AppError } from '../app-error.ts';

/**
 * One process per embedded database directory: two PGlite instances writing the same files corrupt
 * them. The lock is a file beside the directory holding the owner's pid. A lock left by a process that
 * is gone (kill -9) is taken over; a live owner (this very process included) makes the start fail.
 * The inbox journal beside it (`<DATA_DIR>.journal`, src/intake/journal-file.ts) has one writer for the
 * same reason.
 */
export function lockDataDir(dataDir: string): () => void {
  const lockPath = `${dataDir.replace(/\/+$/, '')}.lock`;
  mkdirSync(dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        if (readOwner(lockPath) === process.pid) rmSync(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = readOwner(lockPath);
      if (owner !== undefined && isAlive(owner)) {
        throw new AppError(
          `DATA_DIR ${dataDir} is already in use by process ${owner}. Stop that process, or set DATA_DIR ` +
            'to another directory: two processes on one embedded database would corrupt it.',
          { code: 'data_dir_locked' },
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new AppError(`could not lock DATA_DIR ${dataDir}`, { code: 'data_dir_locked' });
}

function readOwner(lockPath: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
