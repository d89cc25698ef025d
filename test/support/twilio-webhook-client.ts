import twilio from 'twilio';

import type { FakeTwilio } from '../fakes/fake-twilio.ts';

let counter = 0;

/** A Twilio-shaped message sid, unique within the test run. */
export function messageSid(): string {
  counter++;
  return `SM${(Date.now().toString(16) + counter.toString(16).padStart(8, '0')).padStart(32, '0').slice(-32)}`;
}

export type InboundSms = { From: string; To: string; Body: string; MessageSid?: string } & Record<string, string>;

export type TwilioWebhookOptions = { authToken?: string; signature?: string; signedUrl?: string };

/**
 * A Messaging webhook as Twilio sends it to `url`: the form-encoded body and its headers, signed with
 * the real signing code over that URL (or `signedUrl`, as behind a proxy) when an auth token is given.
 */
export function twilioWebhookRequest(url: string, params: InboundSms, options: TwilioWebhookOptions = {}): { headers: Record<string, string>; body: string } {
  const form: Record<string, string> = { AccountSid: 'AC0123456789abcdef0123456789abcdef', NumMedia: '0', ...params, MessageSid: params.MessageSid ?? messageSid() };
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (options.signature !== undefined) headers['x-twilio-signature'] = options.signature;
  else if (options.authToken) headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(options.authToken, options.signedUrl ?? url, form);
  return { headers, body: new URLSearchParams(form).toString() };
}

/**
 * Posts a Messaging webhook as Twilio does (see twilioWebhookRequest). With `opensWindowOn`, a message
 * from a WhatsApp address first tells that fake Twilio the patient wrote (customerWrote), as the real one
 * learns it from the inbound message: replies to them are then delivered for 24 hours, not refused (63016).
 */
export async function postTwilioWebhook(
  baseUrl: string,
  params: InboundSms,
  options: TwilioWebhookOptions & { path?: string; opensWindowOn?: Pick<FakeTwilio, 'customerWrote'> } = {},
): Promise<Response> {
  const url = `${baseUrl}${options.path ?? '/webhooks/twilio'}`;
  if (options.opensWindowOn && params.From.startsWith('whatsapp:')) options.opensWindowOn.customerWrote(params.From);
  return fetch(url, { method: 'POST', ...twilioWebhookRequest(url, params, options) });
}
