import { randomBytes } from 'node:crypto';

import twilio from 'twilio';

import type { RecordedReply } from '../store/inbox.ts';

export type ChatClientOptions = {
  /** The running server, e.g. http://localhost:3000 */
  url: string;
  /** The patient's address (From) and the clinic number it texts (To). */
  patient: string;
  business: string;
  /** When set, requests are signed as Twilio signs them, over `signedUrl` (PUBLIC_URL behind ngrok). */
  authToken?: string;
  signedUrl?: string;
};

/** Why the chat cannot go on: said to the person at the terminal as is, without a stack trace. */
export class ChatError extends Error {
  override name = 'ChatError';
}

/**
 * A phone, as the server sees one: questions go in through the real POST /webhooks/twilio, form-encoded
 * and signed like Twilio's; replies come back from GET /dev/outbox, where a server without Twilio
 * credentials keeps the replies it would have sent.
 */
export function createChatClient(options: ChatClientOptions) {
  const base = options.url.replace(/\/+$/, '');
  const accountSid = `AC${'0'.repeat(32)}`;

  const request = async (path: string, init?: RequestInit): Promise<Response> => {
    try {
      return await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      if (cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOTFOUND' || cause?.code === 'ECONNRESET') {
        throw new ChatError(`No server answers at ${base}. Start it with \`npm start\` (in another terminal), then run \`npm run chat\` again.`);
      }
      throw new ChatError(`Could not reach ${base}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  return {
    /** Texts the clinic, as Twilio would deliver the message to the webhook. */
    async send(body: string): Promise<void> {
      const form: Record<string, string> = {
        AccountSid: accountSid,
        MessageSid: `SM${randomBytes(16).toString('hex')}`,
        From: options.patient,
        To: options.business,
        Body: body,
        NumMedia: '0',
      };
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (options.authToken) {
        headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(options.authToken, options.signedUrl ?? `${base}/webhooks/twilio`, form);
      }
      const response = await request('/webhooks/twilio', { method: 'POST', headers, body: new URLSearchParams(form).toString() });
      if (!response.ok) throw new ChatError(`The server refused the message (${response.status}): ${await reason(response)}`);
    },

    /** Replies recorded after `after`, oldest first; without it, the newest ones (to start from). */
    async replies(after?: number): Promise<{ replies: RecordedReply[]; cursor: number }> {
      const query = new URLSearchParams({ patient: options.patient, business: options.business, ...(after === undefined ? {} : { after: String(after) }) });
      const response = await request(`/dev/outbox?${query.toString()}`);
      if (response.status === 404) {
        throw new ChatError(
          `The server at ${base} sends its replies through Twilio (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are set), so they cannot be shown here. ` +
            'Try the assistant in the terminal against a server started without Twilio credentials.',
        );
      }
      if (!response.ok) throw new ChatError(`The server would not show the replies (${response.status}): ${await reason(response)}`);
      return (await response.json()) as { replies: RecordedReply[]; cursor: number };
    },
  };
}

async function reason(response: Response): Promise<string> {
  const text = await response.text();
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
  } catch {
    return text;
  }
}
