import twilio from 'twilio';

let counter = 0;

/** A Twilio-shaped message sid, unique within the test run. */
export function messageSid(): string {
  counter++;
  return `SM${(Date.now().toString(16) + counter.toString(16).padStart(8, '0')).padStart(32, '0').slice(-32)}`;
}

export type InboundSms = { From: string; To: string; Body: string; MessageSid?: string } & Record<string, string>;

/**
 * Posts a Messaging webhook as Twilio does: form-encoded, signed with the real signing code over the
 * URL it calls (or `signedUrl`, as behind a proxy) when an auth token is given.
 */
export async function postTwilioWebhook(
  baseUrl: string,
  params: InboundSms,
  options: { authToken?: string; signature?: string; signedUrl?: string; path?: string } = {},
): Promise<Response> {
  const path = options.path ?? '/webhooks/twilio';
  const form: Record<string, string> = { AccountSid: 'AC0123456789abcdef0123456789abcdef', NumMedia: '0', ...params, MessageSid: params.MessageSid ?? messageSid() };
  const url = `${baseUrl}${path}`;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (options.signature !== undefined) headers['x-twilio-signature'] = options.signature;
  else if (options.authToken) headers['x-twilio-signature'] = twilio.getExpectedTwilioSignature(options.authToken, options.signedUrl ?? url, form);
  return fetch(url, { method: 'POST', headers, body: new URLSearchParams(form).toString() });
}
