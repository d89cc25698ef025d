import { AppError } from '../../app-error.ts';
import type { WebhookContent, WebhookRequest } from '../channel.ts';
import { parseForm } from './parse-form.ts';

const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;
const ADDRESS = /^(whatsapp:)?\+?[0-9A-Za-z]{3,20}$/;

/** A Twilio Messaging webhook (SMS, or WhatsApp when From starts with "whatsapp:") as one inbound message. */
export function parseTwilioWebhook(request: WebhookRequest): WebhookContent {
  requireForm(request);
  const form = parseForm(request.rawBody);
  const sid = form.get('MessageSid') ?? form.get('SmsMessageSid');
  const from = form.get('From');
  const to = form.get('To');
  const body = form.get('Body') ?? '';
  const mediaCount = Number.parseInt(form.get('NumMedia') ?? '0', 10);
  if (!sid || !SID.test(sid)) throw badRequest('MessageSid is missing or not a Twilio message sid');
  if (!from || !ADDRESS.test(from)) throw badRequest('From is missing or not a phone address');
  if (!to || !ADDRESS.test(to)) throw badRequest('To is missing or not a phone address');
  const hasMedia = Number.isFinite(mediaCount) && mediaCount > 0;
  return {
    messages: [
      {
        channel: 'twilio',
        providerMessageId: sid,
        patient: from,
        business: to,
        body,
        // A caption is about a file the assistant cannot see: media gets the "text only, please" answer.
        // So does a message with no words and no media (a WhatsApp location share): a 400 here would
        // leave the patient with silence, since Twilio does not retry a 4xx.
        kind: hasMedia || body.trim() === '' ? 'media' : 'text',
      },
    ],
    statuses: [],
  };
}

/**
 * A Twilio status callback (queued, sent, delivered, failed, undelivered…). DESIGN: always answered
 * 2xx, so a callback this code cannot read is logged and acknowledged rather than rejected.
 */
export function parseTwilioStatus(request: WebhookRequest): WebhookContent {
  let form: Map<string, string>;
  try {
    requireForm(request);
    form = parseForm(request.rawBody);
  } catch (error) {
    return { messages: [], statuses: [], ignored: [error instanceof Error ? error.message : 'unreadable status callback'] };
  }
  const sid = form.get('MessageSid');
  const status = form.get('MessageStatus');
  if (!sid || !SID.test(sid)) return { messages: [], statuses: [], ignored: ['status callback without a valid MessageSid'] };
  if (!status || !/^[a-z_-]{2,20}$/.test(status)) return { messages: [], statuses: [], ignored: ['status callback without a known MessageStatus'] };
  const errorCode = form.get('ErrorCode');
  return {
    messages: [],
    statuses: [{ channel: 'twilio', providerMessageId: sid, status, ...(errorCode ? { error: `Twilio error ${errorCode}` } : {}) }],
  };
}

function requireForm(request: WebhookRequest): void {
  const type = String(request.headers['content-type'] ?? '');
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new AppError('Content-Type must be application/x-www-form-urlencoded', { code: 'unsupported_media_type', status: 415 });
  }
}

function badRequest(message: string): AppError {
  return new AppError(message, { code: 'malformed_body', status: 400 });
}
