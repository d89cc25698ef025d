import { z } from 'zod';

import { AppError } from '../../app-error.ts';
import type { DeliveryStatus, InboundMessage, WebhookContent, WebhookRequest } from '../channel.ts';
import { isBusinessScopedUserId } from '../phone-number.ts';

// Minimal schemas, listing only the fields read. Each level is checked on its own, so that a part Meta
// sends in a shape this app does not know is skipped (and named in `ignored`) without losing the rest
// of the batch: a non-200 answer makes Meta redeliver the whole payload for days.
const envelopeSchema = z.object({ object: z.string(), entry: z.array(z.unknown()) });
const entrySchema = z.object({ changes: z.array(z.unknown()) });
const changeSchema = z.object({ field: z.string(), value: z.unknown() });
const valueSchema = z.object({
  metadata: z.object({ phone_number_id: z.string().min(1) }),
  contacts: z.array(z.object({ wa_id: z.string().optional(), user_id: z.string().optional() }).passthrough()).optional(),
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
});
const captioned = z.object({ caption: z.string().optional() }).optional();
/** What a message says, as a message or as the new version of an edited one. */
const contentSchema = z.object({
  type: z.string(),
  text: z.object({ body: z.string() }).optional(),
  interactive: z
    .object({ button_reply: z.object({ title: z.string() }).optional(), list_reply: z.object({ title: z.string() }).optional() })
    .optional(),
  button: z.object({ text: z.string() }).optional(),
  image: captioned,
  video: captioned,
  document: captioned,
  audio: z.object({ id: z.string().min(1), mime_type: z.string().default('audio/ogg') }).optional(),
});
// A user with a username may have no phone number here: then `from_user_id` (their business-scoped
// user id) is the only sender (https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids/).
const messageSchema = contentSchema.extend({
  from: z.string().min(1).optional(),
  from_user_id: z.string().refine(isBusinessScopedUserId).optional(),
  id: z.string().min(1),
  edit: z.object({ message: z.unknown() }).optional(),
});
type Content = z.infer<typeof contentSchema>;
const statusSchema = z.object({
  id: z.string().min(1),
  status: z.string().regex(/^[a-z_]{2,20}$/),
  errors: z.array(z.object({ code: z.number(), title: z.string().optional(), message: z.string().optional() })).optional(),
});

type Parsed = Required<WebhookContent>;

/**
 * A WhatsApp Cloud API webhook: every entry, every change and every message and status in them. A body
 * that is not JSON is a 400 (Meta never sends one); JSON in a shape this app does not understand is
 * answered 200 with the reasons in `ignored`, never an error.
 */
export function parseMetaWebhook(request: WebhookRequest): WebhookContent {
  const content: Parsed = { messages: [], statuses: [], ignored: [] };
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

function readChange(rawChange: unknown, at: string, content: Parsed): void {
  const change = changeSchema.safeParse(rawChange);
  if (!change.success) return void content.ignored.push(`${at}: not a change`);
  if (change.data.field !== 'messages') return void content.ignored.push(`${at}: field ${label(change.data.field)} is not handled`);
  const value = valueSchema.safeParse(change.data.value);
  if (!value.success) return void content.ignored.push(`${at}: no metadata.phone_number_id`);
  const { metadata, contacts = [], messages = [], statuses = [] } = value.data;
  if (messages.length === 0 && statuses.length === 0) content.ignored.push(`${at}: neither messages nor statuses`);
  messages.forEach((rawMessage, m) => {
    const message = readMessage(rawMessage, metadata.phone_number_id, contacts);
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
 * An edited message is a new message (its own wamid) with the new words; a deleted one is dropped.
 */
function readMessage(rawMessage: unknown, business: string, contacts: { wa_id?: string | undefined; user_id?: string | undefined }[]): InboundMessage | string | undefined {
  const parsed = messageSchema.safeParse(rawMessage);
  if (!parsed.success) return 'not a readable message';
  const message = parsed.data;
  // The business-scoped user id: on the message, or on the sender's contact (matched by phone, or the only one).
  const contact = contacts.find((c) => c.wa_id !== undefined && c.wa_id === message.from) ?? (contacts.length === 1 ? contacts[0] : undefined);
  const userId = message.from_user_id ?? (contact?.user_id && isBusinessScopedUserId(contact.user_id) ? contact.user_id : undefined);
  const patient = message.from ?? userId;
  if (!patient) return 'a message with neither from nor from_user_id';
  // The patient took a message back: nothing to answer, nothing to say about it.
  if (message.type === 'revoke') return undefined;
  let content: Content = message;
  if (message.type === 'edit') {
    const edited = contentSchema.safeParse(message.edit?.message);
    if (!edited.success) return 'edit without a readable message';
    content = edited.data;
  }
  const read = readContent(content);
  if (read === undefined || typeof read === 'string') return read;
  return { channel: 'meta', providerMessageId: message.id, patient, business, ...read, ...(userId ? { userId } : {}) };
}

/**
 * Button and list replies are the text they carry; a voice note is audio to transcribe; the words sent
 * with a photo, video or file are answered (the file is not read). Anything else the assistant cannot
 * read (a photo without words, a sticker, a location, a contact card, "unsupported"…) is 'media' and
 * gets the kind "please type" answer.
 */
function readContent(content: Content): Pick<InboundMessage, 'kind' | 'body' | 'media'> | string | undefined {
  const words = (kind: InboundMessage['kind'], body: string) => ({ kind, body });
  switch (content.type) {
    case 'text':
      return content.text?.body.trim() ? words('text', content.text.body) : 'text message without text';
    case 'interactive': {
      const title = content.interactive?.button_reply?.title ?? content.interactive?.list_reply?.title;
      return title?.trim() ? words('text', title) : words('media', '');
    }
    case 'button':
      return content.button?.text.trim() ? words('text', content.button.text) : words('media', '');
    case 'audio':
      return content.audio ? { kind: 'voice', body: '', media: { contentType: content.audio.mime_type, id: content.audio.id } } : words('media', '');
    // A reaction (a 👍 on one of our replies) needs no answer: nothing is stored, nothing is sent.
    case 'reaction':
      return undefined;
    // Not written by the patient (a changed number, a first chat opened): nothing to answer.
    case 'system':
    case 'request_welcome':
      return `type "${content.type}" is not handled`;
    default: {
      const caption = content.image?.caption ?? content.video?.caption ?? content.document?.caption ?? '';
      return caption.trim() ? words('captioned', caption) : words('media', '');
    }
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
