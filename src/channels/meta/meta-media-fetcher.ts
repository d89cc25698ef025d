import { z } from 'zod';

import { AppError } from '../../app-error.ts';
import type { MediaFetcher } from '../channel.ts';
import { mediaFetchError } from '../media-fetch-error.ts';
import { readLimitedBody } from '../read-limited-body.ts';

const mediaSchema = z.object({ url: z.string().url(), mime_type: z.string().optional(), file_size: z.coerce.number().optional() });

/**
 * Downloads a file a WhatsApp user sent through the Cloud API, in Meta's two steps: GET /{media-id} with
 * the access token answers a URL (good for 5 minutes), and GET that URL with the same token answers the
 * bytes.
 */
export function createMetaMediaFetcher(options: { accessToken: string; graphApiUrl: string; timeoutMs?: number }): MediaFetcher {
  const headers = { authorization: `Bearer ${options.accessToken}` };
  const get = async (url: string) => {
    try {
      return await fetch(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
    } catch (cause) {
      throw mediaFetchError('Graph API', { cause });
    }
  };
  return {
    async fetch(media, { maxBytes }) {
      if (!('id' in media)) throw new AppError('a Cloud API media file has an id', { code: 'media_unavailable' });
      const described = await get(`${options.graphApiUrl}/${encodeURIComponent(media.id)}`);
      if (!described.ok) {
        await described.body?.cancel();
        throw mediaFetchError('Graph API', { status: described.status });
      }
      const description = mediaSchema.safeParse(await described.json().catch(() => undefined));
      if (!description.success) throw new AppError('Graph API media description without a url', { code: 'media_unavailable' });
      if (description.data.file_size !== undefined && description.data.file_size > maxBytes) {
        throw new AppError(`the file is larger than ${maxBytes} bytes`, { code: 'media_too_large', details: { maxBytes } });
      }
      const download = await get(description.data.url);
      if (!download.ok) {
        await download.body?.cancel();
        throw mediaFetchError('Graph API', { status: download.status });
      }
      const bytes = await readLimitedBody(download, maxBytes);
      return { bytes, contentType: download.headers.get('content-type') ?? description.data.mime_type ?? media.contentType };
    },
  };
}
