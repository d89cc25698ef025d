import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** A captured payload from test/fixtures/meta, as the exact bytes Meta sent: never parsed and re-serialised. */
export function metaFixture(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/meta/${name}.json`, import.meta.url));
}

/** X-Hub-Signature-256 as Meta computes it: hex HMAC-SHA256 of the app secret over the raw bytes. */
export function signMetaPayload(appSecret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

/** Posts a WhatsApp Cloud API webhook as Meta does: JSON, signed over its bytes when an app secret is given. */
export async function postMetaWebhook(
  baseUrl: string,
  body: Buffer | string,
  options: { appSecret?: string; signature?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.signature !== undefined) headers['x-hub-signature-256'] = options.signature;
  else if (options.appSecret) headers['x-hub-signature-256'] = signMetaPayload(options.appSecret, body);
  return fetch(`${baseUrl}/webhooks/meta`, { method: 'POST', headers, body });
}
