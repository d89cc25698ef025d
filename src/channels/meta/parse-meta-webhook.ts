import { z } from 'zod';

import { AppError } from '../../app-error.ts';
import type { DeliveryStatus, InboundMessage, WebhookContent, WebhookRequest } from '../channel.ts';

// Minimal schemas, listing only the fields read. Each level is checked on its own, so that a part Meta
// sends in a shape this app does not know is skipped (and named in `ignored`) without losing the rest
// of the batch: a non-200 answer makes Meta redeliver the whole payload for days.
const envelopeSchema = z.object({ object: z.string(), entry: z.array(z.unknown()) });
const entrySchema = z.object({ changes: z.array(z.unknown()) });
const changeSchema = z.object({ field: z.string(), value: z.unknown() });
const valueSchema = z.object({
  metadata: z.object({ phone_number_id: z.string().min(1) }),
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
});
const captioned = z.object({ caption: z.string().optional() }).optional();
const messageSchema = z.object({
  from: z.string().min(1),
  id: z.string().min(1),
  type: z.string(),
  text: z.object({ body: z.string() }).optional(),
  interactive: z
    .object({ button_reply: z.object({ title: z.string() }).optional(), list_reply: z.object({ title: z.string() }).optional() })
    .optional(),
  button: z.object({ text: z.string() }).optional(),
  image: captioned,
  video: captioned,
  document: captioned,
});
const statusSchema = z.object({
  id: z.string().min(1),
  status: z.string().regex(/^[a-z_]{2,20}$/),
  errors: z.array(z.object({ code: z.number(), title: z.string().optional(), message: z.string().optional() })).optional(),
});

type Content = Required<WebhookContent>;

/**
 * A WhatsApp Cloud API webhook: every entry, every change and every message and status in them. A body
 * that is not JSON is a 400 (Meta never sends one); JSON in a shape this app does not understand is
 * answered 200 with the reasons in `ignored`, never an error.
 */
export function parseMetaWebhook(request: WebhookRequest): WebhookContent {
  const content: Content = { messages: [], statuses: [], ignored: [] };
  const envelope = envelopeSchema.safeParse(parseJson(request.rawBody));
  if (!envelope.success || envelope.data.object !== 'whatsapp_business_account') {
    content.ignored.push('not a WhatsApp Business Account update');
    return content;
  }
  envelope.data.entry.forEach((rawEntry, e) => {
    const entry = entrySchema.safeParse(rawEntry);
    if (!entry.success) content.ignored.push(`entry[${e}]: no changes`);
    else entry.data.changes.forEach((rawChange, c) => readChange(rawChange, `entry[${e}].changes[${c}]`, content));
  });
  return content;
}

function readChange(rawChange: unknown, at: string, content: Content): void {
  const change = changeSchema.safeParse(rawChange);
  if (!change.success) return void content.ignored.push(`${at}: not a change`);
  if (change.data.field !== 'messages') return void content.ignored.push(`${at}: field ${label(change.data.field)} is not handled`);
  const value = valueSchema.safeParse(change.data.value);
  if (!value.success) return void content.ignored.push(`${at}: no metadata.phone_number_id`);
  const { metadata, messages = [], statuses = [] } = value.data;
  if (messages.length === 0 && statuses.length === 0) content.ignored.push(`${at}: neither messages nor statuses`);
  messages.forEach((rawMessage, m) => {
    const message = readMessage(rawMessage, metadata.phone_number_id);
    if (typeof message === 'string') content.ignored.push(`${at}.messages[${m}]: ${message}`);
    else if (message) content.messages.push(message);
  });
  statuses.forEach((rawStatus, s) => {
    const status = readStatus(rawStatus);
    if (typeof status === 'string') content.ignored.push(`${at}.statuses[${s}]: ${status}`);
    else content.statuses.push(status);
  });
}

/**
 * A patient's message as the inbox stores it, undefined when it needs no answer, or why it was skipped.
 * Button and list replies are the text they carry. Anything else the assistant cannot read (image,
 * audio, video, document, sticker, location, contacts, "unsupported"…) is 'media' and gets the kind
 * "text only, please" answer, a caption included: the caption is about a file the assistant cannot see.
 */
function readMessage(rawMessage: unknown, business: string): InboundMessage | string | undefined {
  const parsed = messageSchema.safeParse(rawMessage);
  if (!parsed.success) return 'not a readable message';
  const message = parsed.data;
  const inbound = (kind: InboundMessage['kind'], body: string): InboundMessage => ({
    channel: 'meta',
    providerMessageId: message.id,
    patient: message.from,
    business,
    body,
    kind,
  });
  switch (message.type) {
    case 'text':
      return message.text?.body.trim() ? inbound('text', message.text.body) : 'text message without text';
    case 'interactive': {
      const title = message.interactive?.button_reply?.title ?? message.interactive?.list_reply?.title;
      return title?.trim() ? inbound('text', title) : inbound('media', '');
    }
    case 'button':
      return message.button?.text.trim() ? inbound('text', message.button.text) : inbound('media', '');
    // A reaction (a 👍 on one of our replies) needs no answer: nothing is stored, nothing is sent.
    case 'reaction':
      return undefined;
    // Not written by the patient (a changed number, a first chat opened): nothing to answer.
    case 'system':
    case 'request_welcome':
      return `type "${message.type}" is not handled`;
    default:
      return inbound('media', message.image?.caption ?? message.video?.caption ?? message.document?.caption ?? '');
  }
}

/** A delivery report on a reply we sent; a failed one keeps its errors as "code: title". */
function readStatus(rawStatus: unknown): DeliveryStatus | string {
  const parsed = statusSchema.safeParse(rawStatus);
  if (!parsed.success) return 'not a readable status';
  const { id, status, errors = [] } = parsed.data;
  const error = errors.map((e) => `${e.code}: ${e.title ?? e.message ?? 'no description'}`).join('; ');
  return { channel: 'meta', providerMessageId: id, status, ...(error ? { error } : {}) };
}

function parseJson(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch (cause) {
    throw new AppError('body is not JSON', { code: 'malformed_body', status: 400, cause });
  }
}

/** A name Meta chose, fit for a log line: short and plain, or a placeholder. */
function label(name: string): string {
  return /^[a-z0-9_.-]{1,40}$/i.test(name) ? `"${name}"` : '(unrecognised)';
}
