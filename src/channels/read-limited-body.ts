import { AppError } from '../app-error.ts';

/**
 * A response's bytes, up to `maxBytes`: a larger file (by its Content-Length, or as it streams in) stops
 * with 'media_too_large' without being read any further. Kept in memory only.
 */
export async function readLimitedBody(response: Response, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new AppError(`the file is larger than ${maxBytes} bytes`, { code: 'media_too_large', details: { maxBytes } });
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}
