import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ChannelWebhook, InboundMessage, VerifiableRequest } from '../channels/channel.ts';
import type { Arrival, Intake } from '../intake/intake.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Inbox } from '../store/inbox.ts';
import type { AlertRefusal } from '../alerts/staff-alerts.ts';
import { fromThisMachine } from './from-this-machine.ts';
import { readRawBody } from './read-raw-body.ts';
import { respondWithError } from './respond-with-error.ts';

export type WebhookHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * The one webhook route: verify the signature over the raw bytes, parse, hand every message to the
 * intake (the inbox journal, or the inbox itself), answer. Nothing slow happens here. Twilio gives up
 * after 15 s and Meta redelivers for days when it gets no 200, so the answer must never wait for a
 * model, nor, on the embedded database, for the thread that also searches and answers.
 *
 * A plain Node handler, not an Express route: it is the one route that takes hundreds of requests a
 * second, and Express's router and body-parser cost about 0.2 ms of the main thread on each
 * (create-server.ts sends it the webhook POSTs before Express sees them).
 */
export function webhookRoute(options: {
  webhook: ChannelWebhook;
  /** Bytes a body may hold, after decompression. */
  bodyLimit: number;
  /** Where messages go before the 200: the inbox journal (embedded database) or the inbox itself. */
  intake: Intake;
  inbox: Inbox;
  publicUrl: string | undefined;
  logger: Logger;
  metrics: Metrics;
  /** A delivery report refused staff alerts: their fallbacks are due (and a staff member may be unreached). */
  onAlertRefusals: (refusals: AlertRefusal[]) => void;
  /** Messages a minute allowed from this sender (0: no limit). */
  rateLimitFor: (patient: string) => number;
  /** The kind to store a message as: emergencies are flagged here so that they jump the queue. */
  classify: (message: InboundMessage) => InboundMessage['kind'];
}): WebhookHandler {
  const { webhook, logger, metrics } = options;
  return async (req, res) => {
    try {
      await acknowledge(req, res);
    } catch (error) {
      respondWithError(res, error, { path: (req.url ?? '').split('?')[0]!, channel: webhook.channel, logger, metrics });
    }
  };

  async function acknowledge(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { intake, inbox } = options;
    const started = process.hrtime.bigint();
    const request: VerifiableRequest = {
      url: signedUrl(req, options.publicUrl),
      headers: req.headers,
      rawBody: await readRawBody(req, options.bodyLimit),
      fromThisMachine: fromThisMachine(req),
    };
    webhook.verify(request);
    const content = webhook.parse(request);
    if (content.ignored && content.ignored.length > 0) {
      logger.warn({ channel: webhook.channel, ignored: content.ignored }, 'webhook content not understood; acknowledged without storing it');
    }
    const arrivals: Arrival[] = content.messages.map((message) => {
      const clean = { ...message, body: storable(message.body), patient: storable(message.patient), business: storable(message.business) };
      return { message: { ...clean, kind: options.classify(clean) }, rateLimit: options.rateLimitFor(clean.patient) };
    });
    if (arrivals.length > 0) await intake.accept(arrivals);
    // Delivery reports keep the direct path: a refused staff alert needs the database's answer (its
    // fallbacks) now, and they are a small share of the traffic.
    const refusals: AlertRefusal[] = [];
    for (const status of content.statuses) {
      refusals.push(...(await inbox.recordDeliveryStatus(status)).alerts);
      metrics.deliveryStatuses.inc({ channel: status.channel, status: status.status });
      logger.info({ channel: status.channel, providerMessageId: status.providerMessageId, status: status.status, error: status.error }, 'delivery status');
    }
    res.writeHead(200, { 'content-type': webhook.acknowledgement.contentType, 'content-length': Buffer.byteLength(webhook.acknowledgement.body) });
    res.end(webhook.acknowledgement.body);
    metrics.webhooks.inc({ channel: webhook.channel, outcome: 'accepted' });
    metrics.ackSeconds.observe({ channel: webhook.channel }, Number(process.hrtime.bigint() - started) / 1e9);
    if (refusals.length > 0) options.onAlertRefusals(refusals);
  }
}

/**
 * Text as Postgres can hold it: no NUL, and no lone surrogate (half of an emoji, from a client that cut
 * a message badly), which becomes U+FFFD. One stray character must not turn a patient's message into a
 * 500, on either database.
 */
function storable(text: string): string {
  return text.replaceAll('\u0000', '').toWellFormed();
}

/**
 * The URL the provider signed: PUBLIC_URL + path when set (behind ngrok), else as this server saw it,
 * with the scheme a proxy on this machine says it received (Express's "trust proxy" 'loopback', which
 * the rest of the app uses).
 */
function signedUrl(req: IncomingMessage, publicUrl: string | undefined): string {
  const path = req.url ?? '/';
  if (publicUrl) return `${publicUrl}${path}`;
  return `${protocolOf(req)}://${req.headers.host ?? 'localhost'}${path}`;
}

function protocolOf(req: IncomingMessage): string {
  const own = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  if (!isLoopback(req.socket.remoteAddress)) return own;
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first || own;
}

/** 127.0.0.0/8 and ::1, IPv4-mapped too: what proxy-addr calls 'loopback'. */
function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || /^(::ffff:)?127\./.test(address));
}
