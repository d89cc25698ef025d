import { AppError } from '../../app-error.ts';
import type { MediaFetcher } from '../channel.ts';
import { mediaFetchError } from '../media-fetch-error.ts';
import { readLimitedBody } from '../read-limited-body.ts';

/**
 * Downloads the media of a Twilio message (MediaUrl0). With "HTTP Basic Authentication for media access"
 * (on by default for new accounts) the URL needs the account SID and auth token, and answers with a
 * redirect (307, some saw 302) to a short-lived signed URL on Twilio's CDN, which fetch follows; on
 * another origin it drops the Authorization header, as it should. The credentials go only to Twilio's API
 * (or TWILIO_API_BASE_URL): a MediaUrl0 elsewhere is refused.
 */
export function createTwilioMediaFetcher(options: { accountSid: string; authToken: string; apiBaseUrl: string; timeoutMs?: number }): MediaFetcher {
  const authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  const trusted = (url: URL) => url.origin === new URL(options.apiBaseUrl).origin || /^api(\.[a-z0-9-]+)*\.twilio\.com$/.test(url.hostname);
  return {
    async fetch(media, { maxBytes }) {
      if (!('url' in media)) throw new AppError('a Twilio media file has a URL', { code: 'media_unavailable' });
      const url = new URL(media.url);
      if (!trusted(url)) throw new AppError(`MediaUrl0 is not on Twilio's API (${url.origin})`, { code: 'media_unavailable' });
      let response: Response;
      try {
        response = await fetch(url, { headers: { authorization }, redirect: 'follow', signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
      } catch (cause) {
        throw mediaFetchError('Twilio', { cause });
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw mediaFetchError('Twilio', { status: response.status });
      }
      const bytes = await readLimitedBody(response, maxBytes);
      return { bytes, contentType: response.headers.get('content-type') ?? media.contentType };
    },
  };
}
