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
  const message = { channel: 'twilio' as const, providerMessageId: sid, patient: from, business: to, body };
  const contentType = form.get('MediaContentType0') ?? '';
  const mediaUrl = form.get('MediaUrl0');
  if (hasMedia && contentType.toLowerCase().startsWith('audio/') && mediaUrl) {
    return { messages: [{ ...message, kind: 'voice', media: { contentType, url: mediaUrl } }], statuses: [] };
  }
  // Words sent with a photo or file are answered (the file is not read). No words at all, with a file
  // or without (a WhatsApp location share), gets the "please type" answer: a 400 here would leave the
  // patient with silence, since Twilio does not retry a 4xx.
  const kind = body.trim() === '' ? 'media' : hasMedia ? 'captioned' : 'text';
  return { messages: [{ ...message, kind }], statuses: [] };
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
