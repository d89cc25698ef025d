import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

import twilio from 'twilio';

import { closeServer, createCallbackPoster, createShortLivedLinks, createSleeper, listenOnLoopback, readBody, sendBytes, waitForCount, WHATSAPP_WINDOW_MS, type CallbackOutcome } from './fake-server.ts';

export type SentMessage = {
  accountSid: string;
  from: string;
  to: string;
  /** as sent; usually empty for a Content API template (Twilio: exclude Body when sending ContentSid) */
  body: string;
  statusCallback?: string;
  sid: string;
  at: number;
  /** the Content API template (HX…) when the message was sent with ContentSid, else undefined */
  contentSid: string | undefined;
  /** ContentVariables, parsed from the JSON string the client sent (values as strings), else undefined */
  contentVariables: Record<string, string> | undefined;
};

/** One status callback the fake POSTed to a message's StatusCallback URL, and what came of it. */
export type FakeTwilioStatusCallback = {
  url: string;
  /** the form parameters, exactly as sent and signed */
  params: Record<string, string>;
  /** X-Twilio-Signature, computed over `url` + params with the auth token */
  signature: string;
  outcome: CallbackOutcome;
  at: number;
};

export type FakeTwilioFailure = { status: number; code: number; message: string };

export type FakeTwilio = {
  /** http://127.0.0.1:PORT — stands in for https://api.twilio.com */
  apiBaseURL: string;
  /** credentials it accepts */
  accountSid: string;
  authToken: string;
  /** messages that reached a phone, in order: SMS, WhatsApp inside the 24-hour window, Content API templates */
  messages: SentMessage[];
  /**
   * WhatsApp free-form messages (no ContentSid) to an address outside its 24-hour window: answered 201
   * "queued" like the others, never delivered, then reported "failed" with error 63016 to their StatusCallback.
   */
  refused: SentMessage[];
  /** status callbacks POSTed, in the order they were answered */
  statusCallbacks: FakeTwilioStatusCallback[];
  /** all message-create requests including failed ones */
  requests: number;
  /** mutable; applied to every message-create request before answering (unless latencyFor says otherwise) */
  latencyMs: number;
  /** mutable; the latency of a message-create request to this `To` address, or undefined for latencyMs */
  latencyFor: ((to: string) => number | undefined) | undefined;
  /** attempt = 1-based count of create requests (same as `requests` at that moment); `to` = the request's To */
  failWith: ((attempt: number, to: string) => FakeTwilioFailure | undefined) | undefined;
  /** off by default; when on, a delivered message with a StatusCallback is reported "sent", then "delivered" */
  reportDelivery: boolean;
  /** the fake's clock (epoch ms), for the 24-hour window; replace it to move time on */
  now: () => number;
  /**
   * The customer at this WhatsApp address (`whatsapp:+E164`) last wrote to the business at `at` (default
   * now()): free-form messages to it are delivered until 24 hours after that. What Twilio learns from an
   * inbound message; test/support/twilio-webhook-client.ts calls it when given `opensWindowOn`.
   */
  customerWrote(address: string, at?: number): void;
  /** Whether a free-form WhatsApp message to this address would be delivered at `at` (default now()). */
  windowOpen(address: string, at?: number): boolean;
  /**
   * Keeps a media file as Twilio keeps one a patient sent, behind "HTTP Basic Authentication for media
   * access" (on: Twilio now enables it by default for new accounts and subaccounts,
   * https://github.com/bmlt-enabled/yap/issues/1573). `url` is what Twilio puts in the webhook's
   * MediaUrl0: {apiBaseURL}/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}.
   * GET url with Basic auth (account SID, auth token) answers 307 to a short-lived URL on this fake that
   * serves the bytes with `contentType`; without them, 401 and error 20003. `messageSid` defaults to a new
   * MM… sid. Cleared by reset().
   */
  addMedia(media: { messageSid?: string; contentType: string; bytes: Uint8Array }): { mediaSid: string; url: string };
  /** event-driven; resolves with `messages` once messages.length >= count, rejects after timeoutMs (default 10000) */
  waitForMessages(count: number, timeoutMs?: number): Promise<SentMessage[]>;
  /** event-driven; resolves with `refused` once refused.length >= count */
  waitForRefused(count: number, timeoutMs?: number): Promise<SentMessage[]>;
  /** event-driven; resolves with `statusCallbacks` once that many have been answered (or failed) */
  waitForStatusCallbacks(count: number, timeoutMs?: number): Promise<FakeTwilioStatusCallback[]>;
  /** resolves once every status callback started so far has been answered or has failed */
  settled(): Promise<void>;
  /** clears messages, refused, status callbacks, requests, latencyMs, latencyFor, failWith, reportDelivery, the windows, the clock and the media */
  reset(): void;
  close(): Promise<void>;
};

export const DEFAULT_TWILIO_ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
export const DEFAULT_TWILIO_AUTH_TOKEN = 'f00dfeedbeefcafe0123456789abcdef';

// GSM 03.38 basic character set; extension characters cost two septets.
const GSM_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM_EXTENDED = new Set('^{}\\[~]|€\f');

/** Number of SMS segments Twilio would bill for this body (GSM-7 or UCS-2). */
export function smsSegments(body: string): number {
  let septets = 0;
  let gsm = true;
  for (const ch of body) {
    if (GSM_BASIC.has(ch)) septets += 1;
    else if (GSM_EXTENDED.has(ch)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  if (gsm) return septets <= 160 ? 1 : Math.ceil(septets / 153);
  const units = body.length; // UTF-16 code units
  return units <= 70 ? 1 : Math.ceil(units / 67);
}

function twilioError(status: number, code: number, message: string) {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

function rfc2822(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export { WHATSAPP_WINDOW_MS };

/*
 * How Twilio reports a free-form WhatsApp message sent outside the 24-hour window, as documented:
 * - https://www.twilio.com/docs/api/errors/63016: "This error occurs when you send a free-form message after
 *   the channel's allowed session window has closed. [...] business-initiated messages sent outside the
 *   24-hour customer service window must use an approved template. Send that template with ContentSid
 *   and, if needed, ContentVariables. Since April 1, 2025, sending a WhatsApp template in Body outside the
 *   customer service window fails with this error." So only ContentSid decides, never what Body says.
 * - The create call itself succeeds (201, "queued"); the error arrives later, on the status callback
 *   (https://www.twilio.com/docs/messaging/guides/track-outbound-message-status): form-encoded POST, "a
 *   subset of the standard request properties, and additionally MessageStatus and ErrorCode"; for
 *   WhatsApp also ChannelInstallSid, ChannelPrefix and ChannelStatusMessage ("present only if the Message
 *   delivery failed"). No ErrorMessage is documented (nor seen in captured failed callbacks), so the fake
 *   sends none: a handler must not need one.
 * - ChannelToAddress and StructuredMessage are not in that table but are in captured WhatsApp callbacks
 *   from public code; SmsSid/SmsStatus are in the documented example. The exact ChannelStatusMessage text
 *   is not documented: do not match on it.
 * - Status: the brief asks for "failed". Public reports show 63016 with both "failed" and "undelivered":
 *   a service should treat both as final failures.
 */
const WINDOW_ERROR_CODE = '63016';
const WINDOW_CHANNEL_MESSAGE = 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.';

const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;

/*
 * Media behind "HTTP Basic Authentication for media access", as Twilio documents it
 * (https://support.twilio.com/hc/en-us/articles/223183748-Protect-Media-Access-with-HTTP-Basic-Authentication-for-Programmable-Messaging):
 * once enabled, "the Twilio Account Sid and Auth Token or API Key will be required for accessing, fetching
 * and downloading" media, and "requests to fetch your media will redirect you to a secure URL that is only
 * valid for 4 hours" (on mms.twiliocdn.com).
 * - Without credentials, or with wrong ones: 401 (https://github.com/twilio/twilio-python/issues/840),
 *   error 20003 (https://www.twilio.com/docs/api/errors/20003: "All requests to sensitive areas of the
 *   Twilio API must use HTTP Basic Authentication"). The fake answers the JSON error body it answers
 *   everywhere, but the media URL has no .json suffix, so the real body may well be XML: read the status.
 * - With them: 307 TEMPORARY REDIRECT, Content-Type application/xml, Location on the CDN (captured in
 *   https://github.com/codeforamerica/vita-min/pull/563; the fake's XML body, a <RedirectTo>, is a guess
 *   at those 445 bytes: do not read it). Others saw a 302 (https://github.com/RocketChat/Rocket.Chat/pull/37376):
 *   a client must follow either.
 * - The CDN URL needs no credentials (it is signed). The real one is on another origin, so fetch drops the
 *   Authorization header on the way; here it is the same origin and the header is kept: accepted either way.
 * - An expired CDN URL answers 403, as an expired signed S3 URL does (the CDN URL carries
 *   x-amz-security-token); Twilio does not document that status.
 * - An unknown media SID, with good credentials: 404, error 20404.
 */
const MEDIA_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/([^/]+)\/Media\/([^/.]+)$/;
const CDN_PATH = /^\/mms\.twiliocdn\.com\/([^/]+)\/([^/]+)$/;
const MEDIA_URL_LIFETIME_MS = 4 * 60 * 60 * 1000;

class FakeTwilioServer implements FakeTwilio {
  apiBaseURL = '';
  messages: SentMessage[] = [];
  refused: SentMessage[] = [];
  statusCallbacks: FakeTwilioStatusCallback[] = [];
  requests = 0;
  latencyMs = 0;
  latencyFor: FakeTwilio['latencyFor'] = undefined;
  failWith: FakeTwilio['failWith'] = undefined;
  reportDelivery = false;
  now: () => number = Date.now;

  readonly server: Server;
  private readonly events = new EventEmitter();
  private readonly sleeper = createSleeper();
  private readonly callbacks = createCallbackPoster();
  /** whatsapp:+E164 → when that customer last wrote */
  private lastWrote = new Map<string, number>();
  /** bumped by reset(), so that a callback started before it is not recorded after it */
  private generation = 0;
  /** the WhatsApp sender's Installed Channel SID, the same on every callback of this fake */
  private readonly channelInstallSid = `XE${randomBytes(16).toString('hex')}`;
  /** media SID → the file and the message it came with */
  private media = new Map<string, { messageSid: string; contentType: string; bytes: Buffer }>();
  /** the short-lived CDN URLs handed out, token → media SID */
  private readonly cdnUrls = createShortLivedLinks<string>();

  constructor(
    public accountSid: string,
    public authToken: string,
  ) {
    this.events.setMaxListeners(0);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent && !res.destroyed) {
          send(res, 500, twilioError(500, 20500, `fake-twilio internal error: ${String(err)}`));
        } else {
          res.destroy();
        }
      });
    });
  }

  customerWrote(address: string, at = this.now()): void {
    if (!address.startsWith('whatsapp:')) throw new Error(`fake-twilio: customerWrote takes a WhatsApp address (whatsapp:+E164), not ${JSON.stringify(address)}`);
    this.lastWrote.set(address, at);
  }

  windowOpen(address: string, at = this.now()): boolean {
    const wrote = this.lastWrote.get(address);
    return wrote !== undefined && at - wrote < WHATSAPP_WINDOW_MS;
  }

  addMedia({ messageSid, contentType, bytes }: { messageSid?: string; contentType: string; bytes: Uint8Array }): { mediaSid: string; url: string } {
    const mediaSid = `ME${randomBytes(16).toString('hex')}`;
    const parent = messageSid ?? `MM${randomBytes(16).toString('hex')}`;
    this.media.set(mediaSid, { messageSid: parent, contentType, bytes: Buffer.from(bytes) });
    return { mediaSid, url: `${this.apiBaseURL}/2010-04-01/Accounts/${this.accountSid}/Messages/${parent}/Media/${mediaSid}` };
  }

  waitForMessages(count: number, timeoutMs = 10_000): Promise<SentMessage[]> {
    return this.waitFor('message', () => this.messages, count, 'message(s)', timeoutMs);
  }

  waitForRefused(count: number, timeoutMs = 10_000): Promise<SentMessage[]> {
    return this.waitFor('refused', () => this.refused, count, 'refused message(s)', timeoutMs);
  }

  waitForStatusCallbacks(count: number, timeoutMs = 10_000): Promise<FakeTwilioStatusCallback[]> {
    return this.waitFor('callback', () => this.statusCallbacks, count, 'status callback(s)', timeoutMs);
  }

  settled(): Promise<void> {
    return this.callbacks.settled();
  }

  reset(): void {
    this.messages = [];
    this.refused = [];
    this.statusCallbacks = [];
    this.requests = 0;
    this.latencyMs = 0;
    this.latencyFor = undefined;
    this.failWith = undefined;
    this.reportDelivery = false;
    this.now = Date.now;
    this.lastWrote = new Map();
    this.media = new Map();
    this.cdnUrls.clear();
    this.generation += 1;
  }

  async close(): Promise<void> {
    this.sleeper.cancelAll();
    await this.callbacks.close();
    await closeServer(this.server);
  }

  private waitFor<T>(event: string, list: () => T[], count: number, noun: string, timeoutMs: number): Promise<T[]> {
    const context = () => `${this.requests} create request(s), ${this.refused.length} refused outside the WhatsApp 24-hour window`;
    return waitForCount(this.events, event, list, count, noun, 'fake-twilio', context, timeoutMs);
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+(\S+)$/i.exec(header);
    if (!m) return false;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    return safeEqual(decoded, `${this.accountSid}:${this.authToken}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const raw = await readBody(req);
    if (req.method === 'GET' && (MEDIA_PATH.test(path) || CDN_PATH.test(path))) return this.serveMedia(req, res, path);
    const match = MESSAGES_PATH.exec(path);
    if (!match || req.method !== 'POST') {
      if (!this.authorized(req)) return send(res, 401, twilioError(401, 20003, 'Authenticate'));
      return send(res, 404, twilioError(404, 20404, `The requested resource ${path} was not found`));
    }

    this.requests += 1;
    const attempt = this.requests;
    const form = new URLSearchParams(raw);
    await this.sleeper.sleep(this.latencyFor?.(form.get('To') ?? '') ?? this.latencyMs);
    if (res.destroyed) return;

    if (!this.authorized(req) || match[1] !== this.accountSid) {
      return send(res, 401, twilioError(401, 20003, 'Authenticate'));
    }

    const failure = this.failWith?.(attempt, form.get('To') ?? '');
    if (failure) return send(res, failure.status, twilioError(failure.status, failure.code, failure.message));

    const to = form.get('To');
    const from = form.get('From');
    const messagingServiceSid = form.get('MessagingServiceSid');
    const body = form.get('Body') ?? '';
    const statusCallback = form.get('StatusCallback') ?? undefined;
    const contentSid = form.get('ContentSid') || undefined;
    const rawVariables = form.get('ContentVariables');
    if (!to) return send(res, 400, twilioError(400, 21604, "A 'To' phone number is required."));
    if (!from && !messagingServiceSid) {
      return send(res, 400, twilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."));
    }
    if (!body && !form.has('MediaUrl') && !contentSid) {
      return send(res, 400, twilioError(400, 21602, 'Message body is required.'));
    }
    if ([...body].length > 1600) {
      return send(res, 400, twilioError(400, 21617, 'The concatenated message body exceeds the 1600 character limit.'));
    }
    // https://www.twilio.com/docs/api/errors/21654 and /21656
    if (rawVariables !== null && !contentSid) {
      return send(res, 400, twilioError(400, 21654, 'A ContentSid must be specified if ContentVariables are provided in the request.'));
    }
    const contentVariables = rawVariables === null ? undefined : parseContentVariables(rawVariables);
    if (contentVariables === null) return send(res, 400, twilioError(400, 21656, 'The ContentVariables Parameter is invalid.'));

    const sid = `SM${randomBytes(16).toString('hex')}`;
    const now = new Date();
    const message: SentMessage = {
      accountSid: this.accountSid,
      from: from ?? '',
      to,
      body,
      ...(statusCallback !== undefined ? { statusCallback } : {}),
      sid,
      at: now.getTime(),
      contentSid,
      contentVariables,
    };
    const uri = `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}.json`;
    const resource = {
      account_sid: this.accountSid,
      api_version: '2010-04-01',
      body,
      date_created: rfc2822(now),
      date_sent: null,
      date_updated: rfc2822(now),
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: from ?? null,
      messaging_service_sid: messagingServiceSid,
      num_media: String(form.getAll('MediaUrl').length),
      num_segments: String(smsSegments(body)),
      price: null,
      price_unit: 'USD',
      sid,
      status: messagingServiceSid && !from ? 'accepted' : 'queued',
      subresource_uris: { media: `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}/Media.json` },
      to,
      uri,
    };
    const answered = new Promise((resolve) => res.once('close', resolve));
    const outsideWindow = to.startsWith('whatsapp:') && !contentSid && !this.windowOpen(to);
    if (outsideWindow) {
      this.refused.push(message);
      if (statusCallback) {
        this.reportStatus(message, statusCallback, 'failed', { ErrorCode: WINDOW_ERROR_CODE, ChannelStatusMessage: WINDOW_CHANNEL_MESSAGE }, answered);
      }
      send(res, 201, resource);
      this.events.emit('refused', message);
      return;
    }
    this.messages.push(message);
    if (statusCallback && this.reportDelivery) {
      this.callbacks.track(
        this.reportStatus(message, statusCallback, 'sent', {}, answered).then(() => this.reportStatus(message, statusCallback, 'delivered', {})),
      );
    }
    send(res, 201, resource);
    this.events.emit('message', message);
  }

  /** GET a media URL (Basic auth, then a redirect) or the short-lived CDN URL it redirects to (no auth). */
  private serveMedia(req: IncomingMessage, res: ServerResponse, path: string): void {
    const cdn = CDN_PATH.exec(path);
    if (cdn) {
      const mediaSid = this.cdnUrls.redeem(cdn[2]!, this.now());
      const file = mediaSid !== undefined && cdn[1] === this.accountSid ? this.media.get(mediaSid) : undefined;
      if (file) return sendBytes(res, file.contentType, file.bytes);
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
      return;
    }
    const [, accountSid, messageSid, mediaSid] = MEDIA_PATH.exec(path)!;
    if (!this.authorized(req) || accountSid !== this.accountSid) return send(res, 401, twilioError(401, 20003, 'Authenticate'));
    const file = this.media.get(mediaSid!);
    if (!file || file.messageSid !== messageSid) return send(res, 404, twilioError(404, 20404, `The requested resource ${path} was not found`));
    const location = `${this.apiBaseURL}/mms.twiliocdn.com/${this.accountSid}/${this.cdnUrls.issue(mediaSid!, this.now() + MEDIA_URL_LIFETIME_MS)}`;
    res.writeHead(307, { location, 'content-type': 'application/xml' });
    res.end(`<?xml version='1.0' encoding='UTF-8'?>\n<TwilioResponse><RedirectTo>${location}</RedirectTo></TwilioResponse>`);
  }

  /** POSTs one status callback as Twilio does: form-encoded, signed over the StatusCallback URL. */
  private async reportStatus(message: SentMessage, url: string, status: string, extra: Record<string, string>, after?: Promise<unknown>): Promise<void> {
    const params: Record<string, string> = {
      AccountSid: this.accountSid,
      ApiVersion: '2010-04-01',
      From: message.from,
      To: message.to,
      MessageSid: message.sid,
      MessageStatus: status,
      SmsSid: message.sid,
      SmsStatus: status,
      ...(message.to.startsWith('whatsapp:')
        ? { ChannelPrefix: 'whatsapp', ChannelInstallSid: this.channelInstallSid, ChannelToAddress: message.to.slice('whatsapp:'.length), StructuredMessage: 'false' }
        : {}),
      ...extra,
    };
    const signature = twilio.getExpectedTwilioSignature(this.authToken, url, params);
    const headers = {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'user-agent': 'TwilioProxy/1.1',
      'x-twilio-signature': signature,
      'i-twilio-idempotency-token': randomUUID(),
    };
    const generation = this.generation;
    const outcome = await this.callbacks.post(url, headers, new URLSearchParams(params).toString(), after);
    if (generation !== this.generation) return;
    const callback: FakeTwilioStatusCallback = { url, params, signature, outcome, at: Date.now() };
    this.statusCallbacks.push(callback);
    this.events.emit('callback', callback);
  }
}

/** ContentVariables: a JSON object of placeholder → value; null when Twilio would answer 21656. */
function parseContentVariables(raw: string): Record<string, string> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const variables: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    // "ContentVariables cannot be an empty string or null" (21656).
    if ((typeof value !== 'string' && typeof value !== 'number') || value === '') return null;
    variables[key] = String(value);
  }
  return variables;
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(payload));
}

export async function startFakeTwilio(options: { accountSid?: string; authToken?: string } = {}): Promise<FakeTwilio> {
  const fake = new FakeTwilioServer(
    options.accountSid ?? DEFAULT_TWILIO_ACCOUNT_SID,
    options.authToken ?? DEFAULT_TWILIO_AUTH_TOKEN,
  );
  const port = await listenOnLoopback(fake.server);
  fake.apiBaseURL = `http://127.0.0.1:${port}`;
  return fake;
}
