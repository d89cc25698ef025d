import twilio from 'twilio';
import type TwilioRequestClient from 'twilio/lib/base/RequestClient.js';

import { AppError } from '../../app-error.ts';
import type { Sender } from '../channel.ts';

/** Twilio rejects an SMS or WhatsApp body over 1,600 characters (error 21617). */
export const TWILIO_MAX_BODY = 1600;

/**
 * The twilio client has no base-URL option; this RequestClient sends its calls to TWILIO_API_BASE_URL
 * instead (a fake in tests, a proxy in some deployments).
 */
class RebasedRequestClient extends twilio.RequestClient {
  constructor(private readonly baseUrl: string, timeout: number) {
    super({ timeout });
  }

  override request<TData>(opts: TwilioRequestClient.RequestOptions<TData>) {
    // Any API host (api.twilio.com, or api.<edge>.<region>.twilio.com when TWILIO_EDGE is set).
    return super.request<TData>({ ...opts, uri: opts.uri.replace(/^https:\/\/api(\.[a-z0-9-]+)*\.twilio\.com/, this.baseUrl) });
  }
}

export function createTwilioSender(options: {
  accountSid: string;
  authToken: string;
  apiBaseUrl: string;
  statusCallbackUrl?: string;
  timeoutMs?: number;
}): Sender {
  const httpClient = new RebasedRequestClient(options.apiBaseUrl, options.timeoutMs ?? 15_000);
  // logLevel set here so that TWILIO_LOG_LEVEL=debug in the environment cannot make the SDK log
  // request bodies (patients' numbers and replies).
  const client = twilio(options.accountSid, options.authToken, {
    logLevel: 'info',
    ...(options.apiBaseUrl === 'https://api.twilio.com' ? {} : { httpClient }),
  });
  // The client loads its Messages API on first use: about 50 ms of the main thread, which would fall
  // on the first reply, among webhooks after a restart (BENCHMARKS.md, table 9). Loaded now, at start.
  void client.messages;
  return {
    maxLength: () => TWILIO_MAX_BODY,
    async send({ from, to, body }) {
      try {
        const message = await client.messages.create({
          from,
          to,
          body,
          ...(options.statusCallbackUrl ? { statusCallback: options.statusCallbackUrl } : {}),
        });
        return { providerMessageId: message.sid };
      } catch (cause) {
        throw toSendError(cause);
      }
    },
    /** A Content API template: ContentSid and ContentVariables ({"1": …, "2": …}) instead of a body. */
    async sendTemplate({ from, to, template, variables }) {
      try {
        const message = await client.messages.create({
          from,
          to,
          contentSid: template,
          contentVariables: JSON.stringify(Object.fromEntries(variables.map((value, index) => [String(index + 1), value]))),
          ...(options.statusCallbackUrl ? { statusCallback: options.statusCallbackUrl } : {}),
        });
        return { providerMessageId: message.sid };
      } catch (cause) {
        throw toSendError(cause);
      }
    },
  };
}

function toSendError(cause: unknown): AppError {
  const error = cause as { status?: number; code?: number | string; message?: string };
  const status = typeof error.status === 'number' ? error.status : undefined;
  // No status means the request never got an answer (reset, timeout, DNS): worth another try.
  const retryable = status === undefined || status === 408 || status === 429 || status >= 500;
  return new AppError(`Twilio send failed${status ? ` (${status}${error.code ? `, code ${error.code}` : ''})` : ''}: ${error.message ?? String(cause)}`, {
    code: 'send_failed',
    retryable,
    cause,
    details: { status, providerCode: error.code },
  });
}
