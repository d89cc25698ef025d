import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';

import { closeServer, createSleeper, listenOnLoopback, readBody } from './fake-server.ts';

export type SentMessage = {
  accountSid: string;
  from: string;
  to: string;
  body: string;
  statusCallback?: string;
  sid: string;
  at: number;
};

export type FakeTwilioFailure = { status: number; code: number; message: string };

export type FakeTwilio = {
  /** http://127.0.0.1:PORT — stands in for https://api.twilio.com */
  apiBaseURL: string;
  /** credentials it accepts */
  accountSid: string;
  authToken: string;
  /** successfully "sent" messages in order */
  messages: SentMessage[];
  /** all message-create requests including failed ones */
  requests: number;
  /** mutable; applied to every message-create request before answering */
  latencyMs: number;
  /** attempt = 1-based count of create requests (same as `requests` at that moment) */
  failWith: ((attempt: number) => FakeTwilioFailure | undefined) | undefined;
  /** event-driven; resolves with `messages` once messages.length >= count, rejects after timeoutMs (default 10000) */
  waitForMessages(count: number, timeoutMs?: number): Promise<SentMessage[]>;
  /** clears messages, requests, latencyMs, failWith */
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

const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;

class FakeTwilioServer implements FakeTwilio {
  apiBaseURL = '';
  messages: SentMessage[] = [];
  requests = 0;
  latencyMs = 0;
  failWith: ((attempt: number) => FakeTwilioFailure | undefined) | undefined = undefined;

  readonly server: Server;
  private readonly events = new EventEmitter();
  private readonly sleeper = createSleeper();

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

  waitForMessages(count: number, timeoutMs = 10_000): Promise<SentMessage[]> {
    if (this.messages.length >= count) return Promise.resolve(this.messages);
    return new Promise((resolve, reject) => {
      const onMessage = () => {
        if (this.messages.length >= count) {
          cleanup();
          resolve(this.messages);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `fake-twilio: timed out after ${timeoutMs} ms waiting for ${count} message(s); got ${this.messages.length} ` +
              `(${this.requests} create request(s))`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off('message', onMessage);
      };
      this.events.on('message', onMessage);
    });
  }

  reset(): void {
    this.messages = [];
    this.requests = 0;
    this.latencyMs = 0;
    this.failWith = undefined;
  }

  async close(): Promise<void> {
    this.sleeper.cancelAll();
    await closeServer(this.server);
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
    const match = MESSAGES_PATH.exec(path);
    if (!match || req.method !== 'POST') {
      if (!this.authorized(req)) return send(res, 401, twilioError(401, 20003, 'Authenticate'));
      return send(res, 404, twilioError(404, 20404, `The requested resource ${path} was not found`));
    }

    this.requests += 1;
    const attempt = this.requests;
    await this.sleeper.sleep(this.latencyMs);
    if (res.destroyed) return;

    if (!this.authorized(req) || match[1] !== this.accountSid) {
      return send(res, 401, twilioError(401, 20003, 'Authenticate'));
    }

    const failure = this.failWith?.(attempt);
    if (failure) return send(res, failure.status, twilioError(failure.status, failure.code, failure.message));

    const form = new URLSearchParams(raw);
    const to = form.get('To');
    const from = form.get('From');
    const messagingServiceSid = form.get('MessagingServiceSid');
    const body = form.get('Body') ?? '';
    const statusCallback = form.get('StatusCallback') ?? undefined;
    if (!to) return send(res, 400, twilioError(400, 21604, "A 'To' phone number is required."));
    if (!from && !messagingServiceSid) {
      return send(res, 400, twilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."));
    }
    if (!body && !form.has('MediaUrl') && !form.has('ContentSid')) {
      return send(res, 400, twilioError(400, 21602, 'Message body is required.'));
    }
    if ([...body].length > 1600) {
      return send(res, 400, twilioError(400, 21617, 'The concatenated message body exceeds the 1600 character limit.'));
    }

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
    this.messages.push(message);
    send(res, 201, resource);
    this.events.emit('message', message);
  }
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
