import { appendFileSync, closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

import { decodeRecords } from './journal-records.ts';

/**
 * The inbox journal of an embedded data directory: `<DATA_DIR>.journal`, beside the directory like its
 * lock file (`<DATA_DIR>.lock`), so one process at a time writes it. `<DATA_DIR>.rejected` beside it
 * keeps, one JSON line each, the messages the database refused for their content.
 */
export function journalPathsFor(dataDir: string): { journal: string; rejected: string } {
  const base = dataDir.replace(/\/+$/, '');
  return { journal: `${base}.journal`, rejected: `${base}.rejected` };
}

export type JournalFile = {
  path: string;
  rejectedPath: string;
  /** Records an earlier process appended and did not see stored, in order; and the bytes of a torn last one (cut off). */
  leftovers: { records: unknown[]; tornBytes: number };
  /** Appends whole records, or throws and leaves the file as it was. */
  append(bytes: Buffer): void;
  /** Empties the journal (everything in it is stored). */
  truncate(): void;
  /** Keeps a record the database refused, with why, in the rejected file. */
  reject(line: Record<string, unknown>): void;
  close(): void;
};

/**
 * Opens (or creates) the journal for appending. Appends are one synchronous `write` on an O_APPEND
 * descriptor: a few hundred bytes into the page cache, microseconds on the main thread. Once it
 * returns, the record survives the process being killed (kill -9, a crash): the kernel holds it. It
 * is not flushed to the disk (no fsync): a power cut may lose the last records, as it may lose the
 * embedded database's own last writes, which PGlite makes with fsync off. So a 200 after an append
 * promises what a 200 after an inbox write always promised here, without a wait on the disk per webhook.
 */
export function openJournalFile(paths: { journal: string; rejected: string }): JournalFile {
  mkdirSync(dirname(paths.journal), { recursive: true });
  const fd = openSync(paths.journal, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600);
  const bytes = readWhole(fd);
  const leftovers = decodeRecords(bytes);
  /** Bytes in the file: where a failed append is cut back to. */
  let size = bytes.length - leftovers.tornBytes;
  // A torn last record is cut off now, or the records appended after it would be hidden behind it.
  if (leftovers.tornBytes > 0) ftruncateSync(fd, size);
  /** A failed append could not be cut off: nothing is appended after it until the journal is emptied. */
  let damaged = false;

  return {
    path: paths.journal,
    rejectedPath: paths.rejected,
    leftovers,
    append(bytes) {
      if (damaged) throw new Error('an earlier failed write could not be undone; the journal takes no more until it is emptied');
      // A write() that fails (ENOSPC, EIO) throws having written nothing; one that returns a short
      // count wrote part of the records.
      const written = writeSync(fd, bytes);
      if (written === bytes.length) {
        size += written;
        return;
      }
      // Only part of it went in (the disk filled up midway): cut it off, so that records appended
      // after it are not hidden behind a torn one when the journal is read back.
      try {
        ftruncateSync(fd, size);
      } catch {
        damaged = true;
      }
      throw Object.assign(new Error(`short write to the inbox journal: ${written} of ${bytes.length} bytes`), { code: 'ENOSPC' });
    },
    truncate() {
      ftruncateSync(fd, 0);
      size = 0;
      damaged = false;
    },
    reject(line) {
      appendFileSync(paths.rejected, `${JSON.stringify(line)}\n`, { mode: 0o600 });
    },
    close() {
      closeSync(fd);
    },
  };
}

/** The file's bytes as its size says: a device in its place (/dev/full) would otherwise read forever. */
function readWhole(fd: number): Buffer {
  const bytes = Buffer.alloc(fstatSync(fd).size);
  let read = 0;
  while (read < bytes.length) {
    const n = readSync(fd, bytes, read, bytes.length - read, read);
    if (n === 0) break;
    read += n;
  }
  return bytes.subarray(0, read);
}
