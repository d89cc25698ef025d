import { describe, expect, it } from 'vitest';

import { audioSeconds } from '../../src/voice/audio-seconds.ts';
import { makeOggOpus } from '../support/make-ogg-opus.ts';

function wav(seconds: number): Uint8Array {
  const byteRate = 16_000 * 2;
  const dataSize = Math.round(seconds * byteRate);
  const bytes = new Uint8Array(44 + dataSize);
  const view = new DataView(bytes.buffer);
  const ascii = (at: number, text: string) => bytes.set(new TextEncoder().encode(text), at);
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataSize, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, 16_000, true);
  view.setUint32(28, byteRate, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, dataSize, true);
  return bytes;
}

describe('audioSeconds', () => {
  it('reads an Ogg Opus voice note from its last granule position, less the pre-skip', () => {
    expect(audioSeconds(makeOggOpus(7.5, 'hello'))).toBeCloseTo(7.5, 3);
    expect(audioSeconds(makeOggOpus(125))).toBeCloseTo(125, 3);
  });

  it('reads a WAV file from its data size and byte rate', () => {
    expect(audioSeconds(wav(2))).toBeCloseTo(2, 3);
  });

  it('when the format is unknown or the bytes do not parse, then it cannot say', () => {
    expect(audioSeconds(new TextEncoder().encode('ID3 an mp3'))).toBeUndefined();
    expect(audioSeconds(new Uint8Array())).toBeUndefined();
    expect(audioSeconds(makeOggOpus(3).subarray(0, 30))).toBeUndefined();
  });
});
