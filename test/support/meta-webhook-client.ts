import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { FakeGraphApi } from '../fakes/fake-graph-api.ts';

/** A captured payload from test/fixtures/meta, as the exact bytes Meta sent: never parsed and re-serialised. */
export function metaFixture(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/meta/${name}.json`, import.meta.url));
}

let textCounter = 0;

/** A webhook with one text message from `from` (a wa_id) to the business phone number `phoneNumberId`, as the Cloud API sends it. */
export function metaTextPayload(from: string, body: string, phoneNumberId: string): string {
  textCounter++;
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550783881', phone_number_id: phoneNumberId },
      contacts: [{ profile: { name: 'Patient' }, wa_id: from }],
      messages: [{ from, id: `wamid.text-${Date.now()}-${textCounter}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body } }],
    } }] }],
  });
}

/** X-Hub-Signature-256 as Meta computes it: hex HMAC-SHA256 of the app secret over the raw bytes. */
export function signMetaPayload(appSecret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

/**
 * Posts a WhatsApp Cloud API webhook as Meta does: JSON, signed over its bytes when an app secret is given.
 * With `opensWindowOn`, each user who wrote one of its messages (messages[].from, else from_user_id) is first made known to
 * that fake Graph API (customerWrote), as Meta knows it: text replies to them are then delivered for 24
 * hours, not refused (131047).
 */
export async function postMetaWebhook(
  baseUrl: string,
  body: Buffer | string,
  options: { appSecret?: string; signature?: string; opensWindowOn?: Pick<FakeGraphApi, 'customerWrote'> } = {},
): Promise<Response> {
  if (options.opensWindowOn) for (const waId of senders(body)) options.opensWindowOn.customerWrote(waId);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.signature !== undefined) headers['x-hub-signature-256'] = options.signature;
  else if (options.appSecret) headers['x-hub-signature-256'] = signMetaPayload(options.appSecret, body);
  return fetch(`${baseUrl}/webhooks/meta`, { method: 'POST', headers, body });
}

/** The wa_ids that wrote the messages in a webhook payload; none when it is not one. */
function senders(body: Buffer | string): string[] {
  let payload: any;
  try {
    payload = JSON.parse(body.toString());
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of Array.isArray(payload?.entry) ? payload.entry : []) {
    for (const change of Array.isArray(entry?.changes) ? entry.changes : []) {
      for (const message of Array.isArray(change?.value?.messages) ? change.value.messages : []) {
        if (typeof message?.from === 'string' && /\d/.test(message.from)) found.push(message.from);
        else if (typeof message?.from_user_id === 'string') found.push(message.from_user_id);
      }
    }
  }
  return found;
}
