import type { IncomingMessage } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

import { AppError } from '../app-error.ts';

/**
 * A request's body as the bytes that were signed, at most `limit` of them (after decompression), with
 * the same refusals body-parser gives: 413 too large, 415 an encoding it cannot read, 400 aborted. The
 * webhook routes read their bodies here instead of through Express: at hundreds of webhooks a second
 * Express's router and body-parser were a fifth of the main thread's time (BENCHMARKS.md, table 1).
 */
export function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  let source: Readable = req;
  let decoder: Transform | undefined;
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  // The declared length is of the bytes sent: it says something of the body only when they are not compressed.
  if (encoding === 'identity' && Number(req.headers['content-length']) > limit) return Promise.reject(tooLarge());
  if (encoding !== 'identity') {
    const makeDecoder = DECODERS[encoding];
    if (!makeDecoder) {
      return Promise.reject(new AppError(`unsupported content encoding "${encoding}"`, { code: 'encoding.unsupported', status: 415 }));
    }
    decoder = makeDecoder();
    source = req.pipe(decoder);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const fail = (error: AppError) => {
      source.removeAllListeners('data');
      if (decoder) {
        // The rest of the request is read and dropped, as body-parser does: left unread, it would hold
        // the connection until the keep-alive timeout.
        req.unpipe(decoder);
        decoder.destroy();
        req.resume();
      }
      reject(error);
    };
    source.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) fail(tooLarge());
      else chunks.push(chunk);
    });
    source.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length)));
    source.once('error', (cause) => fail(new AppError('the request body could not be read', { code: 'request.unreadable', status: 400, cause })));
    req.once('aborted', () => fail(new AppError('request aborted', { code: 'request.aborted', status: 400 })));
  });
}

const DECODERS: Record<string, () => Transform> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };

const tooLarge = () => new AppError('request body is too large', { code: 'entity.too.large', status: 413 });
