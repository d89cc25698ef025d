/**
 * How long a recording lasts, read from its container without decoding it: Ogg (Opus or Vorbis, what
 * WhatsApp voice notes are) and WAV. Undefined for other formats and for bytes that do not parse: the
 * caller then relies on the size limit alone.
 */
export function audioSeconds(bytes: Uint8Array): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = (offset: number, length: number) => String.fromCharCode(...bytes.subarray(offset, offset + length));
  if (bytes.length >= 28 && text(0, 4) === 'OggS') return oggSeconds(bytes, view, text);
  if (bytes.length >= 12 && text(0, 4) === 'RIFF' && text(8, 4) === 'WAVE') return wavSeconds(bytes, view, text);
  return undefined;
}

type Text = (offset: number, length: number) => string;

/** The last page's granule position over the sample rate (Opus: always 48 kHz, less the pre-skip). */
function oggSeconds(bytes: Uint8Array, view: DataView, text: Text): number | undefined {
  const firstData = 27 + bytes[26]!;
  let rate: number;
  let preSkip = 0;
  if (text(firstData, 8) === 'OpusHead' && bytes.length >= firstData + 12) {
    rate = 48_000;
    preSkip = view.getUint16(firstData + 10, true);
  } else if (text(firstData, 7) === '\u0001vorbis' && bytes.length >= firstData + 16) {
    rate = view.getUint32(firstData + 12, true);
  } else {
    return undefined;
  }
  for (let at = bytes.length - 27; at >= 0; at--) {
    if (bytes[at] !== 0x4f || text(at, 4) !== 'OggS') continue;
    const granule = Number(view.getBigInt64(at + 6, true));
    return rate > 0 && granule >= 0 ? Math.max(0, granule - preSkip) / rate : undefined;
  }
  return undefined;
}

/** The data chunk's size over the format chunk's byte rate. */
function wavSeconds(bytes: Uint8Array, view: DataView, text: Text): number | undefined {
  let byteRate: number | undefined;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = text(at, 4);
    const size = view.getUint32(at + 4, true);
    if (id === 'fmt ' && at + 16 <= bytes.length) byteRate = view.getUint32(at + 16, true);
    if (id === 'data') return byteRate ? size / byteRate : undefined;
    at += 8 + size + (size % 2);
  }
  return undefined;
}
