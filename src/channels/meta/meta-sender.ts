import { z } from 'zod';

import { AppError } from '../../app-error.ts';
import type { Sender } from '../channel.ts';
import { isBusinessScopedUserId } from '../phone-number.ts';
import { graphApiError } from './graph-api-error.ts';

/** WhatsApp rejects a text body over 4,096 characters. */
export const META_MAX_BODY = 4096;

const sentSchema = z.object({ messages: z.array(z.object({ id: z.string().min(1) })).min(1) });

/**
 * Replies through the WhatsApp Cloud API: POST {META_GRAPH_API_URL}/{phone_number_id}/messages, from
 * the phone number id that received the patient's message (the inbox's `business`).
 */
export function createMetaSender(options: { accessToken: string; graphApiUrl: string; timeoutMs?: number }): Sender {
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function post(operation: 'send' | 'acknowledge', phoneNumberId: string, payload: Record<string, unknown>): Promise<unknown> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${options.graphApiUrl}/${encodeURIComponent(phoneNumberId)}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ messaging_product: 'whatsapp', ...payload }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (cause) {
      throw graphApiError({ operation, cause });
    }
    const body = parseJson(text);
    if (!response.ok) throw graphApiError({ operation, status: response.status, body });
    return body;
  }

  return {
    maxLength: () => META_MAX_BODY,
    async send({ from, to, body }) {
      return sentMessage(await post('send', from, { recipient_type: 'individual', ...addressed(to), type: 'text', text: { body, preview_url: false } }));
    },
    /** A template of the WhatsApp Business account, "name:language", its body values in order. */
    async sendTemplate({ from, to, template, variables }) {
      const [name = '', language = 'en'] = template.split(':');
      const payload = {
        recipient_type: 'individual',
        ...addressed(to),
        type: 'template',
        template: { name, language: { code: language }, components: [{ type: 'body', parameters: variables.map((text) => ({ type: 'text', text })) }] },
      };
      return sentMessage(await post('send', from, payload));
    },
    /** One call marks the patient's message read and shows "typing…" until the reply (or 25 s). */
    async acknowledge({ providerMessageId, business }) {
      await post('acknowledge', business, { status: 'read', message_id: providerMessageId, typing_indicator: { type: 'text' } });
    },
  };
}

/**
 * A phone number goes in `to`; a business-scoped user id (a user with a username and no phone number
 * here) in `recipient`, as the Cloud API takes it since usernames (`to` wins when both are sent).
 */
function addressed(to: string): { to: string } | { recipient: string } {
  return isBusinessScopedUserId(to) ? { recipient: to } : { to };
}

/** The id of a message the Graph API took. */
function sentMessage(body: unknown): { providerMessageId: string } {
  const answer = sentSchema.safeParse(body);
  if (!answer.success) {
    // The call succeeded, so the message probably went out: another try could send it twice.
    throw new AppError('Graph API send answered without a message id', { code: 'send_failed', retryable: false });
  }
  return { providerMessageId: answer.data.messages[0]!.id };
}

/** The answer's JSON, or undefined for a body that is not (a proxy's HTML error page). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
