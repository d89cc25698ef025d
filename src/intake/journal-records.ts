import { crc32 } from 'node:zlib';

/** Bytes before each record's JSON: its length and its CRC-32, both unsigned 32-bit big-endian. */
const HEADER_BYTES = 8;
/** Far above any webhook (Meta's largest is 3 MB): a length beyond it is damage, not a record. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/**
 * Records as they are appended to the journal: each one framed by its length and a checksum, so that
 * a record cut short (power lost mid-write, a full disk) or overwritten with zeros is recognised as
 * such, and never read as a shorter or different message.
 */
export function encodeRecords(records: readonly unknown[]): Buffer {
  const frames: Buffer[] = [];
  for (const record of records) {
    const payload = Buffer.from(JSON.stringify(record), 'utf8');
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32BE(payload.length, 0);
    header.writeUInt32BE(crc32(payload), 4);
    frames.push(header, payload);
  }
  return Buffer.concat(frames);
}

export type DecodedRecords<T> = {
  records: T[];
  /** Bytes at the end that do not frame a whole, intact record (0 when the journal ended cleanly). */
  tornBytes: number;
};

/**
 * Reads records back, in order, up to the first frame that is incomplete or fails its checksum. Only
 * the last record can be torn: appends are sequential, and a write that fails halfway is cut off
 * before the next one (see journal-file.ts). Whatever follows a bad frame is reported, not guessed at.
 */
export function decodeRecords<T = unknown>(bytes: Buffer): DecodedRecords<T> {
  const records: T[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const record = frameAt<T>(bytes, offset);
    if (!record) break;
    records.push(record.value);
    offset = record.end;
  }
  return { records, tornBytes: bytes.length - offset };
}

function frameAt<T>(bytes: Buffer, offset: number): { value: T; end: number } | undefined {
  if (bytes.length - offset < HEADER_BYTES) return undefined;
  const length = bytes.readUInt32BE(offset);
  const end = offset + HEADER_BYTES + length;
  // A zero length is what a zero-filled tail reads as (a file extended but its data never written).
  if (length === 0 || length > MAX_RECORD_BYTES || end > bytes.length) return undefined;
  const payload = bytes.subarray(offset + HEADER_BYTES, end);
  if (crc32(payload) !== bytes.readUInt32BE(offset + 4)) return undefined;
  try {
    return { value: JSON.parse(payload.toString('utf8')) as T, end };
  } catch {
    return undefined;
  }
}
