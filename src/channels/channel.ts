/** What every channel (Twilio, Meta) turns its webhooks into, and how the worker answers through it. */
export type ChannelName = 'twilio' | 'meta';

export type InboundMessage = {
  channel: ChannelName;
  /** Twilio MessageSid, Meta wamid: the key redeliveries are deduplicated on. */
  providerMessageId: string;
  /** The patient's address as the provider gives it ("+15551234567", "whatsapp:+15551234567", Meta wa_id). */
  patient: string;
  /** The address that received the message, and so the one the reply goes out from. */
  business: string;
  body: string;
  /**
   * 'text'; 'captioned' for the words sent with a photo, video or file (answered, with a line that the
   * file itself was not read); 'voice' for a voice note (`media`, transcribed by the worker: its
   * transcript becomes the body); 'media' for anything else the assistant cannot read (a photo without
   * words, a sticker, a location, a contact card). Set when the message is stored, from the safety
   * phrases: 'emergency' (jumps its conversation's queue) and 'command' (STOP, START, a request for a
   * person, a staff #command: never merged into a burst).
   * ('outgoing' is not a patient's message: a staff reply queued in the inbox, see staff_reply.)
   */
  kind: 'text' | 'captioned' | 'voice' | 'media' | 'emergency' | 'command';
  /** A voice note's audio: where the provider keeps it (Twilio's MediaUrl0, or a Meta media id). */
  media?: InboundMedia;
  /**
   * Meta: the patient's business-scoped user id, when the webhook carries one. `patient` is then the
   * address the conversation is kept under: the first one seen with this id (see patient_alias).
   */
  userId?: string;
};

export type InboundMedia = { contentType: string } & ({ url: string } | { id: string });

export type DeliveryStatus = {
  channel: ChannelName;
  providerMessageId: string;
  status: string;
  error?: string;
};

/**
 * A parsed webhook: what to store. `ignored` names the parts the app did not understand (never their
 * text or numbers), so that the route can log them and still answer 200: Meta redelivers a webhook it
 * did not get a 200 for, for days.
 */
export type WebhookContent = { messages: InboundMessage[]; statuses: DeliveryStatus[]; ignored?: string[] };

/** The request as the signature was computed over it: the exact URL and the raw bytes. */
export type WebhookRequest = {
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
};

/**
 * What verification also needs: whether the request was made on this machine and not relayed (see
 * src/http/from-this-machine.ts). A channel whose secret is unset accepts unsigned requests only then:
 * `npm run chat` works, a tunnel or the internet does not.
 */
export type VerifiableRequest = WebhookRequest & { fromThisMachine: boolean };

/**
 * One channel's webhook, written as three small steps so that the route around them is written once.
 * `verify` and `parse` throw an AppError with the HTTP status to answer.
 */
export type ChannelWebhook = {
  channel: ChannelName;
  verify(request: VerifiableRequest): void;
  parse(request: WebhookRequest): WebhookContent;
  acknowledgement: { contentType: string; body: string };
};

export type OutgoingMessage = { from: string; to: string; body: string };

/**
 * An approved WhatsApp template: the only kind of message WhatsApp delivers outside the 24-hour
 * window. `template` is a Twilio Content SID (HX…) or a Meta "name:language"; `variables` fill
 * {{1}}, {{2}}… in order.
 */
export type OutgoingTemplate = { from: string; to: string; template: string; variables: string[] };

/** Sends a reply through a channel. Errors are AppErrors whose `retryable` says whether to try again. */
export type Sender = {
  /** The longest body one message may have on this channel. */
  maxLength(to: string): number;
  send(message: OutgoingMessage): Promise<{ providerMessageId: string }>;
  /** Optional: sends an approved WhatsApp template (staff alerts outside the 24-hour window). */
  sendTemplate?(message: OutgoingTemplate): Promise<{ providerMessageId: string }>;
  /**
   * Optional: tells the patient their message was seen and an answer is coming (WhatsApp read receipt
   * and typing indicator). Called before the pipeline starts; a failure here never stops the answer.
   */
  acknowledge?(message: { providerMessageId: string; business: string; patient: string }): Promise<void>;
};

/** A file a patient sent (a voice note), as bytes in memory: never written to disk. */
export type MediaFile = { bytes: Uint8Array; contentType: string };

/**
 * Downloads a file a patient sent, from where the provider keeps it, with the channel's credentials.
 * At most `maxBytes`: a larger file fails with code 'media_too_large' before it is all read. Errors are
 * AppErrors whose `retryable` says whether to try again.
 */
export type MediaFetcher = {
  fetch(media: InboundMedia, options: { maxBytes: number }): Promise<MediaFile>;
};

export function conversationKey(message: Pick<InboundMessage, 'channel' | 'business' | 'patient'>): string {
  return `${message.channel}:${message.business}:${message.patient}`;
}
