/**
 * A minimal Ogg Opus file of `seconds` (two header pages and one audio page whose granule position says
 * how long it is), with `spoken` as its "audio" bytes: enough for a container reader and for the fake
 * OpenAI transcription endpoint, which answers with the text after "spoken:". CRCs are not computed: no
 * reader here checks them.
 */
export function makeOggOpus(seconds: number, spoken = ''): Uint8Array {
  const preSkip = 312;
  const head = new Uint8Array(19);
  head.set(new TextEncoder().encode('OpusHead'), 0);
  head[8] = 1; // version
  head[9] = 1; // channels
  new DataView(head.buffer).setUint16(10, preSkip, true);
  new DataView(head.buffer).setUint32(12, 48_000, true);
  const tags = new TextEncoder().encode('OpusTags\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000');
  const audio = new TextEncoder().encode(`spoken:${spoken}`);
  return concat([page(head, 0n, 0, 0x02), page(tags, 0n, 1, 0), page(audio, BigInt(Math.round(seconds * 48_000) + preSkip), 2, 0x04)]);
}

function page(data: Uint8Array, granule: bigint, sequence: number, headerType: number): Uint8Array {
  const segments: number[] = [];
  for (let left = data.length; ; left -= 255) {
    segments.push(Math.min(left, 255));
    if (left < 255) break;
  }
  const header = new Uint8Array(27 + segments.length);
  header.set(new TextEncoder().encode('OggS'), 0);
  header[5] = headerType;
  const view = new DataView(header.buffer);
  view.setBigInt64(6, granule, true);
  view.setUint32(14, 0x434c494e, true); // serial
  view.setUint32(18, sequence, true);
  header[26] = segments.length;
  header.set(segments, 27);
  return concat([header, data]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
