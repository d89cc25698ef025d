import type { ChannelWebhook } from '../channel.ts';
import { parseMetaWebhook } from './parse-meta-webhook.ts';
import { verifyMetaSignature } from './verify-meta-signature.ts';

/** Meta reads nothing but the 200; anything else makes it redeliver the payload, for days. */
export function metaWebhook(appSecret: string | undefined): ChannelWebhook {
  return {
    channel: 'meta',
    verify: (request) => verifyMetaSignature(appSecret, request),
    parse: parseMetaWebhook,
    acknowledgement: { contentType: 'text/plain', body: 'OK' },
  };
}
