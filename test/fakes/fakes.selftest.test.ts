import { createHash, createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import twilio from 'twilio';
import type TwilioRequestClient from 'twilio/lib/base/RequestClient.js';
import { fakeEmbedding, startFakeOpenAI, type FakeOpenAI, type FakeOpenAICall } from './fake-openai.js';
import { DEFAULT_PHONE_NUMBER_IDS, startFakeGraphApi, type FakeGraphApi } from './fake-graph-api.js';
import { closeServer, listenOnLoopback, readBody, waitForEvent } from './fake-server.js';
import { startFakeTwilio, WHATSAPP_WINDOW_MS, type FakeTwilio } from './fake-twilio.js';
import { waitFor } from './wait-for.js';

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

describe('waitFor', () => {
  it('resolves with the first truthy value', async () => {
    let value: string | undefined;
    queueMicrotask(() => {
      setImmediate(() => (value = 'ready'));
    });
    await expect(waitFor(() => value, { what: 'value' })).resolves.toBe('ready');
  });

  it('rejects naming what it waited for', async () => {
    await expect(waitFor(() => false, { timeoutMs: 30, what: 'the impossible' })).rejects.toThrow(/the impossible/);
  });
});

describe('fakeEmbedding', () => {
  it('is deterministic, unit length and 1536-dimensional by default', () => {
    const a = fakeEmbedding('How much does IVF treatment cost?');
    expect(a).toHaveLength(1536);
    expect(a).toEqual(fakeEmbedding('How much does IVF treatment cost?'));
    expect(Math.hypot(...a)).toBeCloseTo(1, 10);
    expect(fakeEmbedding('x', 8)).toHaveLength(8);
  });

  it('puts texts sharing words close together, ignoring case, stopwords and plurals', () => {
    const query = fakeEmbedding('What are the clinic opening hours?');
    const relevant = fakeEmbedding('Clinics open at 8am. Opening hours: Monday to Friday.');
    const unrelated = fakeEmbedding('Embryo transfer is performed under ultrasound guidance.');
    expect(cosine(query, relevant)).toBeGreaterThan(0.5);
    expect(cosine(query, unrelated)).toBeLessThan(0.2);
    expect(fakeEmbedding('EMBRYOS transferred')).toEqual(fakeEmbedding('embryo transfer'));
  });

  it('falls back to bucket 0 for text without words', () => {
    const v = fakeEmbedding('?! a an to', 4);
    expect(v).toEqual([1, 0, 0, 0]);
  });
});

describe('fake OpenAI through the real openai SDK', () => {
  let fake: FakeOpenAI;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: 'test-key', baseURL: fake.baseURL, maxRetries: 0 });
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it('transcribes an upload as the endpoint does: model and file required, the format read from the file name', async () => {
    const audio = Buffer.concat([Buffer.from([0x4f, 0x67, 0x67, 0x53, 0xff, 0x00]), Buffer.from('spoken:¿Cuándo empiezo?')]);
    const res = await client.audio.transcriptions.create({ model: 'gpt-4o-mini-transcribe', file: await toFile(audio, 'voice.ogg', { type: 'audio/ogg' }) });
    expect(res.text).toBe('¿Cuándo empiezo?');
    expect(fake.calls[0]!.body).toEqual({ model: 'gpt-4o-mini-transcribe', file: { filename: 'voice.ogg', contentType: 'audio/ogg', size: audio.length } });
    await expect(client.audio.transcriptions.create({ model: 'gpt-4o-mini-transcribe', file: await toFile(audio, 'voice.amr', { type: 'audio/amr' }) })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/Invalid file format/),
    });
  });

  it('answers embeddings in base64 (SDK default) which the SDK decodes', async () => {
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['egg freezing', 'sperm donor'] });
    expect(res.data).toHaveLength(2);
    expect(res.model).toBe('text-embedding-3-small');
    expect(res.usage.total_tokens).toBeGreaterThan(0);
    res.data.forEach((item, i) => {
      const expected = fakeEmbedding(['egg freezing', 'sperm donor'][i]!);
      expect(item.index).toBe(i);
      expect(item.embedding).toHaveLength(1536);
      item.embedding.forEach((v, j) => expect(Math.abs(v - expected[j]!)).toBeLessThan(1e-6));
    });
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]!.path).toBe('/v1/embeddings');
    expect(fake.calls[0]!.body.encoding_format).toBe('base64');
    expect(fake.calls[0]!.status).toBe(200);
  });

  it('answers plain float arrays when encoding_format is float, and honours dimensions', async () => {
    const res = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'egg freezing',
      encoding_format: 'float',
      dimensions: 256,
    });
    expect(res.data[0]!.embedding).toEqual(fakeEmbedding('egg freezing', 256));
  });

  it('answers chat completions from the first <document> block', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Answer only from the documents.' },
        {
          role: 'user',
          content:
            '<document title="Opening hours">\n  The clinic is open Monday to Friday, 8am to 6pm.\n</document>\n' +
            '<document title="Prices">IVF costs 4000 EUR.</document>\nQuestion: when are you open?',
        },
      ],
    });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.choices[0]!.message.content).toBe('[fake model] From "Opening hours": The clinic is open Monday to Friday, 8am to 6pm.');
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
  });

  it('says it does not know when there is no document, and chatReply can be replaced', async () => {
    const ask = () =>
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Do you do IVF?' }] });
    expect((await ask()).choices[0]!.message.content).toBe(
      "[fake model] I'm sorry, the clinic's documents do not cover that. Please call the clinic.",
    );
    fake.chatReply = (body) => `echo: ${body.messages.at(-1).content}`;
    expect((await ask()).choices[0]!.message.content).toBe('echo: Do you do IVF?');
  });

  it('rejects streaming with 400', async () => {
    await expect(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('requires a bearer token and 404s unknown paths', async () => {
    const noAuth = await fetch(`${fake.baseURL}/embeddings`, { method: 'POST', body: '{}' });
    expect(noAuth.status).toBe(401);
    const body = (await noAuth.json()) as { error: { message: string; type: string; code: string } };
    expect(body.error.code).toBe('invalid_api_key');
    const unknown = await fetch(`${fake.baseURL}/models`, { headers: { authorization: 'Bearer x' } });
    expect(unknown.status).toBe(404);
    expect(fake.calls.map((c) => c.status)).toEqual([401, 404]);
  });

  it('injects failures that the SDK surfaces as typed errors', async () => {
    fake.retryAfterSeconds = 7;
    const statuses = [500, 429, 0];
    fake.failWith = () => statuses.shift();
    const embed = () => client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello world' });

    const e500 = await embed().catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(OpenAI.InternalServerError);
    expect((e500 as InstanceType<typeof OpenAI.APIError>).status).toBe(500);

    const e429 = await embed().catch((e: unknown) => e);
    expect(e429).toBeInstanceOf(OpenAI.RateLimitError);
    expect((e429 as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('7');

    const reset = await embed().catch((e: unknown) => e);
    expect(reset).toBeInstanceOf(OpenAI.APIConnectionError);

    await expect(embed()).resolves.toBeTruthy(); // failWith returned undefined
    expect(fake.calls.map((c) => c.status)).toEqual([500, 429, 0, 200]);
  });

  it('applies latency and tracks concurrency, emitting a call event per finished request', async () => {
    fake.latency.embeddings = 50;
    const seen: FakeOpenAICall[] = [];
    fake.on('call', (c) => seen.push(c));
    const pending = Promise.all(
      ['one', 'two', 'three', 'four'].map((input) => client.embeddings.create({ model: 'text-embedding-3-small', input })),
    );
    await waitFor(() => fake.inFlight === 4, { what: '4 requests in flight' });
    expect(seen).toHaveLength(0);
    await pending;
    expect(fake.inFlight).toBe(0);
    expect(fake.maxInFlight).toBe(4);
    expect(seen).toHaveLength(4);
    for (const c of fake.calls) expect(c.endedAt! - c.startedAt).toBeGreaterThanOrEqual(45);
  });
});

/** The twilio package has no base-URL option: rewrite https://api.twilio.com to the fake. */
class FakeApiRequestClient extends twilio.RequestClient {
  constructor(private readonly apiBaseURL: string) {
    super();
  }
  override request<TData>(opts: TwilioRequestClient.RequestOptions<TData>) {
    return super.request<TData>({ ...opts, uri: opts.uri.replace(/^https:\/\/api\.twilio\.com/, this.apiBaseURL) });
  }
}

describe('fake Twilio through the real twilio SDK', () => {
  let fake: FakeTwilio;
  let client: twilio.Twilio;

  beforeAll(async () => {
    fake = await startFakeTwilio();
    client = twilio(fake.accountSid, fake.authToken, { httpClient: new FakeApiRequestClient(fake.apiBaseURL) });
  });
  afterEach(() => fake.reset());
  afterAll(() => fake.close());

  it('records a sent message and answers like the real API', async () => {
    fake.customerWrote('whatsapp:+15550000002');
    const msg = await client.messages.create({
      from: 'whatsapp:+15550000001',
      to: 'whatsapp:+15550000002',
      body: 'Your appointment is confirmed.',
      statusCallback: 'http://127.0.0.1:9/status',
    });
    expect(msg.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(msg.status).toBe('queued');
    expect(msg.accountSid).toBe(fake.accountSid);
    expect(msg.direction).toBe('outbound-api');
    expect(msg.numSegments).toBe('1');
    expect(msg.dateCreated).toBeInstanceOf(Date);
    expect(fake.messages).toEqual([
      {
        accountSid: fake.accountSid,
        from: 'whatsapp:+15550000001',
        to: 'whatsapp:+15550000002',
        body: 'Your appointment is confirmed.',
        statusCallback: 'http://127.0.0.1:9/status',
        sid: msg.sid,
        at: expect.any(Number),
        contentSid: undefined,
        contentVariables: undefined,
      },
    ]);
    expect(fake.refused).toEqual([]);
    expect(fake.requests).toBe(1);
  });

  it('waitForMessages resolves when messages arrive (no sleeps)', async () => {
    fake.latencyMs = 20;
    void client.messages.create({ from: '+15550000001', to: '+15550000003', body: 'one' });
    void client.messages.create({ from: '+15550000001', to: '+15550000004', body: 'two' });
    const sent = await fake.waitForMessages(2);
    expect(sent.map((m) => m.body).sort()).toEqual(['one', 'two']);
    await expect(fake.waitForMessages(3, 30)).rejects.toThrow(/3 message/);
  });

  it('surfaces failures as RestException with status and code', async () => {
    fake.failWith = (attempt) => (attempt === 1 ? { status: 429, code: 20429, message: 'Too Many Requests' } : undefined);
    const err = await client.messages.create({ from: '+15550000001', to: '+15550000002', body: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(twilio.RestException);
    expect(err).toMatchObject({ status: 429, code: 20429, message: 'Too Many Requests' });
    await client.messages.create({ from: '+15550000001', to: '+15550000002', body: 'hi' });
    expect(fake.requests).toBe(2);
    expect(fake.messages).toHaveLength(1);
  });

  it('rejects bad credentials with 20003 and over-long bodies with 21617', async () => {
    const wrong = twilio(fake.accountSid, '0'.repeat(32), { httpClient: new FakeApiRequestClient(fake.apiBaseURL) });
    await expect(wrong.messages.create({ from: '+15550000001', to: '+15550000002', body: 'hi' })).rejects.toMatchObject({
      status: 401,
      code: 20003,
    });
    await expect(
      client.messages.create({ from: '+15550000001', to: '+15550000002', body: 'x'.repeat(1601) }),
    ).rejects.toMatchObject({ status: 400, code: 21617 });
    expect(fake.messages).toHaveLength(0);
    expect(fake.requests).toBe(2);
  });
});

type Received = { url: string; headers: Record<string, string | string[] | undefined>; body: string };

/** A real HTTP server on 127.0.0.1 standing in for the service: it keeps what the fakes POST to it. */
async function startReceiver() {
  const received: Received[] = [];
  const events = new EventEmitter();
  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      received.push({ url: `${base}${req.url}`, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/xml' }).end('<Response></Response>');
      events.emit('request');
    });
  });
  const base = `http://127.0.0.1:${await listenOnLoopback(server)}`;
  return {
    base,
    received,
    waitFor: (count: number) =>
      waitForEvent(events, 'request', () => received.length >= count, () => received, 'receiver', () => `${count} request(s); got ${received.length}`, 10_000),
    clear: () => received.splice(0),
    close: () => closeServer(server),
  };
}

describe('fake Twilio: the WhatsApp 24-hour window, through the real twilio SDK', () => {
  const CLINIC = 'whatsapp:+15557654322';
  let fake: FakeTwilio;
  let client: twilio.Twilio;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let statusUrl: string;

  beforeAll(async () => {
    [fake, receiver] = await Promise.all([startFakeTwilio(), startReceiver()]);
    client = twilio(fake.accountSid, fake.authToken, { httpClient: new FakeApiRequestClient(fake.apiBaseURL) });
    statusUrl = `${receiver.base}/webhooks/twilio/status?clinic=1`;
  });
  afterEach(() => {
    fake.reset();
    receiver.clear();
  });
  afterAll(async () => {
    await fake?.close();
    await receiver?.close();
  });

  const freeForm = (to: string) => client.messages.create({ from: CLINIC, to, body: 'Your results are in.', statusCallback: statusUrl });

  it('when the patient never wrote, then a free-form message is queued like any other, never delivered, and a signed "failed" callback with 63016 follows', async () => {
    const msg = await freeForm('whatsapp:+15550100001');
    expect(msg.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(msg.status).toBe('queued');
    expect(msg.errorCode).toBeNull();

    const [request] = await receiver.waitFor(1);
    expect(fake.messages).toEqual([]);
    expect(fake.refused).toMatchObject([{ sid: msg.sid, to: 'whatsapp:+15550100001', body: 'Your results are in.' }]);
    expect(request!.url).toBe(statusUrl);
    expect(request!.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    const params = Object.fromEntries(new URLSearchParams(request!.body));
    expect(params).toMatchObject({
      AccountSid: fake.accountSid,
      ApiVersion: '2010-04-01',
      From: CLINIC,
      To: 'whatsapp:+15550100001',
      MessageSid: msg.sid,
      MessageStatus: 'failed',
      SmsSid: msg.sid,
      SmsStatus: 'failed',
      ErrorCode: '63016',
      ChannelPrefix: 'whatsapp',
      ChannelToAddress: '+15550100001',
    });
    expect(params.ChannelInstallSid).toMatch(/^XE[0-9a-f]{32}$/);
    expect(params).not.toHaveProperty('Body');
    // Signed as Twilio signs: over the StatusCallback URL (query included) and the form, with the auth token.
    const signature = request!.headers['x-twilio-signature'] as string;
    expect(twilio.validateRequest(fake.authToken, signature, statusUrl, params)).toBe(true);
    expect(twilio.validateRequest('0'.repeat(32), signature, statusUrl, params)).toBe(false);
    expect(twilio.validateRequest(fake.authToken, signature, `${receiver.base}/webhooks/twilio/status`, params)).toBe(false);
    expect(request!.headers['i-twilio-idempotency-token']).toEqual(expect.any(String));

    const [callback] = await fake.waitForStatusCallbacks(1);
    expect(callback).toMatchObject({ url: statusUrl, params, signature, outcome: { status: 200 } });
  });

  it('when the patient wrote within 24 hours, then a free-form message is delivered and, by default, no callback is sent', async () => {
    fake.customerWrote('whatsapp:+15550100002', Date.now() - WHATSAPP_WINDOW_MS + 60_000);
    const msg = await freeForm('whatsapp:+15550100002');
    expect(fake.messages).toMatchObject([{ sid: msg.sid, to: 'whatsapp:+15550100002', contentSid: undefined }]);
    expect(fake.refused).toEqual([]);
    await fake.settled();
    expect(fake.statusCallbacks).toEqual([]);
    expect(receiver.received).toEqual([]);
  });

  it('when the patient last wrote more than 24 hours ago, or the clock moves on past it, then the message is refused with 63016', async () => {
    fake.customerWrote('whatsapp:+15550100003', Date.now() - WHATSAPP_WINDOW_MS - 1000);
    const stale = await freeForm('whatsapp:+15550100003');
    fake.customerWrote('whatsapp:+15550100004');
    fake.now = () => Date.now() + WHATSAPP_WINDOW_MS;
    const later = await freeForm('whatsapp:+15550100004');

    const requests = await receiver.waitFor(2);
    expect(fake.messages).toEqual([]);
    expect(fake.refused.map((m) => m.sid)).toEqual([stale.sid, later.sid]);
    const params = requests.map((r) => Object.fromEntries(new URLSearchParams(r.body)));
    expect(params.map((p) => [p.MessageSid, p.MessageStatus, p.ErrorCode]).sort()).toEqual(
      [[stale.sid, 'failed', '63016'], [later.sid, 'failed', '63016']].sort(),
    );
    expect(fake.windowOpen('whatsapp:+15550100004')).toBe(false);
    expect(fake.windowOpen('whatsapp:+15550100004', Date.now())).toBe(true);
  });

  it('when a Content API template is sent outside the window, then it is delivered with its ContentSid and parsed ContentVariables, and no callback fails it', async () => {
    const msg = await client.messages.create({
      from: CLINIC,
      to: 'whatsapp:+15550100005',
      contentSid: 'HX0123456789abcdef0123456789abcdef',
      contentVariables: JSON.stringify({ 1: 'Anna', 2: '10:30' }),
      statusCallback: statusUrl,
    });
    expect(msg.status).toBe('queued');
    const [delivered] = await fake.waitForMessages(1);
    expect(delivered).toMatchObject({
      sid: msg.sid,
      to: 'whatsapp:+15550100005',
      body: '',
      contentSid: 'HX0123456789abcdef0123456789abcdef',
      contentVariables: { 1: 'Anna', 2: '10:30' },
    });
    expect(fake.refused).toEqual([]);
    await fake.settled();
    expect(receiver.received).toEqual([]);
  });

  it('when ContentVariables come without ContentSid, or are not a JSON object of values, then 21654 and 21656 as Twilio answers', async () => {
    await expect(
      client.messages.create({ from: CLINIC, to: 'whatsapp:+15550100006', body: 'hi', contentVariables: '{"1":"Anna"}' }),
    ).rejects.toMatchObject({ status: 400, code: 21654 });
    for (const contentVariables of ['{"1":', '["Anna"]', '{"1":null}', '{"1":""}']) {
      await expect(
        client.messages.create({ from: CLINIC, to: 'whatsapp:+15550100006', contentSid: 'HX0123456789abcdef0123456789abcdef', contentVariables }),
        contentVariables,
      ).rejects.toMatchObject({ status: 400, code: 21656 });
    }
    expect(fake.messages).toEqual([]);
    expect(fake.refused).toEqual([]);
  });

  it('when the message is an SMS, then the WhatsApp window does not apply', async () => {
    const msg = await client.messages.create({ from: '+15557654321', to: '+15550100007', body: 'Your results are in.', statusCallback: statusUrl });
    expect(fake.messages).toMatchObject([{ sid: msg.sid, to: '+15550100007' }]);
    expect(fake.refused).toEqual([]);
    expect(() => fake.customerWrote('+15550100007')).toThrow(/whatsapp:/);
  });

  it('when reportDelivery is on, then a delivered message is reported "sent", then "delivered", signed', async () => {
    fake.reportDelivery = true;
    fake.customerWrote('whatsapp:+15550100008');
    const msg = await freeForm('whatsapp:+15550100008');
    const callbacks = await fake.waitForStatusCallbacks(2);
    expect(callbacks.map((c) => [c.params.MessageSid, c.params.MessageStatus, c.params.ErrorCode])).toEqual([
      [msg.sid, 'sent', undefined],
      [msg.sid, 'delivered', undefined],
    ]);
    for (const request of await receiver.waitFor(2)) {
      const params = Object.fromEntries(new URLSearchParams(request.body));
      expect(twilio.validateRequest(fake.authToken, request.headers['x-twilio-signature'] as string, statusUrl, params)).toBe(true);
    }
  });

  it('when the StatusCallback is not on loopback (PUBLIC_URL behind ngrok), then nothing leaves the machine and the callback is recorded as not sent', async () => {
    await client.messages.create({ from: CLINIC, to: 'whatsapp:+15550100009', body: 'hi', statusCallback: 'https://clinic-test.ngrok-free.app/webhooks/twilio/status' });
    const [callback] = await fake.waitForStatusCallbacks(1);
    expect(callback!.params.ErrorCode).toBe('63016');
    expect(callback!.outcome).toEqual({ error: expect.stringMatching(/^not sent: .*loopback/) });
    expect(receiver.received).toEqual([]);
  });
});

describe('fake Graph API: the WhatsApp 24-hour window, through plain fetch', () => {
  const PHONE_NUMBER_ID = '106540352242922';
  const APP_SECRET = 'meta-app-secret-for-selftest';
  let graph: FakeGraphApi;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  const post = async (payload: Record<string, unknown>) => {
    const response = await fetch(`${graph.baseURL}/${PHONE_NUMBER_ID}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${graph.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messaging_product: 'whatsapp', recipient_type: 'individual', ...payload }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const text = (to: string, body = 'Your results are in.') => post({ to, type: 'text', text: { body, preview_url: false } });

  beforeAll(async () => {
    [graph, receiver] = await Promise.all([startFakeGraphApi(), startReceiver()]);
    graph.webhook = { url: `${receiver.base}/webhooks/meta`, appSecret: APP_SECRET };
  });
  afterEach(() => {
    graph.reset();
    receiver.clear();
  });
  afterAll(async () => {
    await graph?.close();
    await receiver?.close();
  });

  it('when the user never wrote, then the text is accepted with a wamid, never delivered, and a signed "failed" status webhook with 131047 follows', async () => {
    const sent = await text('15551230901');
    expect(sent.status).toBe(200);
    const wamid: string = sent.body.messages[0].id;
    expect(wamid).toMatch(/^wamid\./);
    expect(sent.body.contacts).toEqual([{ input: '15551230901', wa_id: '15551230901' }]);

    const [request] = await receiver.waitFor(1);
    expect(graph.messages).toEqual([]);
    expect(graph.refused).toMatchObject([{ id: wamid, to: '15551230901', phoneNumberId: PHONE_NUMBER_ID }]);
    expect(request!.url).toBe(`${receiver.base}/webhooks/meta`);
    expect(request!.headers['content-type']).toBe('application/json');
    // X-Hub-Signature-256 is the hex HMAC-SHA256 of the exact bytes, keyed by the app secret.
    const expected = `sha256=${createHmac('sha256', APP_SECRET).update(request!.body).digest('hex')}`;
    expect(request!.headers['x-hub-signature-256']).toBe(expected);
    expect(createHmac('sha256', 'another-secret').update(request!.body).digest('hex')).not.toBe(expected.slice(7));
    expect(JSON.parse(request!.body)).toEqual({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550783881', phone_number_id: PHONE_NUMBER_ID },
                statuses: [
                  {
                    id: wamid,
                    status: 'failed',
                    timestamp: expect.stringMatching(/^\d{10}$/),
                    recipient_id: '15551230901',
                    errors: [
                      {
                        code: 131047,
                        title: 'Re-engagement message',
                        message: 'Re-engagement message',
                        error_data: { details: expect.stringMatching(/more than 24 hours have passed/) },
                        href: expect.stringMatching(/^https:\/\/developers\.facebook\.com\//),
                      },
                    ],
                  },
                ],
              },
            },
          ],
        },
      ],
    });
    const [webhook] = await graph.waitForStatusWebhooks(1);
    expect(webhook).toMatchObject({ body: request!.body, signature: expected, outcome: { status: 200 } });
  });

  it('when the user wrote within 24 hours, then the text is delivered and no status webhook is sent', async () => {
    graph.customerWrote('+1 555 123 0902', Date.now() - WHATSAPP_WINDOW_MS + 60_000);
    const sent = await text('15551230902');
    expect(graph.messages).toMatchObject([{ id: sent.body.messages[0].id, to: '15551230902', body: 'Your results are in.' }]);
    expect(graph.refused).toEqual([]);
    await graph.settled();
    expect(graph.statusWebhooks).toEqual([]);
    expect(receiver.received).toEqual([]);
  });

  it('when the user last wrote more than 24 hours ago, or the clock moves on past it, then the text is refused with 131047', async () => {
    graph.customerWrote('15551230903', Date.now() - WHATSAPP_WINDOW_MS - 1000);
    const stale = await text('15551230903');
    graph.customerWrote('15551230904');
    graph.now = () => Date.now() + WHATSAPP_WINDOW_MS;
    const later = await text('15551230904');
    const requests = await receiver.waitFor(2);
    expect(graph.messages).toEqual([]);
    const failed = requests.map((r) => JSON.parse(r.body).entry[0].changes[0].value.statuses[0]);
    expect(failed.map((s) => [s.id, s.status, s.errors[0].code]).sort()).toEqual(
      [[stale.body.messages[0].id, 'failed', 131047], [later.body.messages[0].id, 'failed', 131047]].sort(),
    );
  });

  it('when a template is sent outside the window, then it is delivered and recorded with its name, language and body parameters', async () => {
    const waiting = graph.waitForTemplates(1);
    const sent = await post({
      to: '15551230905',
      type: 'template',
      template: {
        name: 'appointment_reminder',
        language: { code: 'en_US' },
        components: [{ type: 'body', parameters: [{ type: 'text', text: 'Anna' }, { type: 'text', text: '10:30' }] }],
      },
    });
    expect(sent.status).toBe(200);
    expect(sent.body.messages).toEqual([{ id: expect.stringMatching(/^wamid\./), message_status: 'accepted' }]);
    const [template] = await waiting;
    expect(template).toMatchObject({ id: sent.body.messages[0].id, to: '15551230905', name: 'appointment_reminder', language: 'en_US', bodyParameters: ['Anna', '10:30'] });
    expect(graph.messages).toEqual([]);
    expect(graph.refused).toEqual([]);
    await graph.settled();
    expect(receiver.received).toEqual([]);
    expect((await post({ to: '15551230905', type: 'template', template: { language: { code: 'en_US' } } })).status).toBe(400);
  });

  it('when no webhook is configured, then a refused text is still refused, and nothing is posted', async () => {
    const webhook = graph.webhook;
    graph.webhook = undefined;
    try {
      await text('15551230906');
      expect(graph.refused).toHaveLength(1);
      await graph.settled();
      expect(graph.statusWebhooks).toEqual([]);
      expect(receiver.received).toEqual([]);
    } finally {
      graph.webhook = webhook;
    }
  });
});

/** A voice note's first bytes (an Ogg page header), with bytes that are not valid UTF-8, to prove they arrive intact. */
const VOICE_NOTE = Buffer.concat([Buffer.from('OggS'), Buffer.from([0x00, 0x02, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x00, 0x7f])]);

/** A response as the tests read it: status, headers, and the body as bytes. */
async function read(response: Response) {
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}
const json = (bytes: Buffer) => JSON.parse(bytes.toString('utf8'));

describe('fake Graph API: phone number ids and media behind the token, through plain fetch', () => {
  let graph: FakeGraphApi;
  const bearer = () => ({ authorization: `Bearer ${graph.accessToken}` });
  const postMessage = (phoneNumberId: string, payload: Record<string, unknown>, headers: Record<string, string> = bearer()) =>
    fetch(`${graph.baseURL}/${phoneNumberId}/messages`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ messaging_product: 'whatsapp', ...payload }),
    }).then(read);
  const getMedia = (id: string, headers: Record<string, string> = bearer()) => fetch(`${graph.baseURL}/${id}`, { headers }).then(read);

  beforeAll(async () => {
    graph = await startFakeGraphApi();
  });
  afterEach(() => graph.reset());
  afterAll(() => graph?.close());

  it('when a text is sent from a phone number id that is not the business\'s, then 400, GraphMethodException 100 with subcode 33, and nothing is sent', async () => {
    graph.customerWrote('15551231001');
    const unknown = await postMessage('109999999999999', { to: '15551231001', type: 'text', text: { body: 'hi' } });
    expect(unknown.status).toBe(400);
    expect(json(unknown.bytes)).toEqual({
      error: {
        message:
          "Unsupported post request. Object with ID '109999999999999' does not exist, cannot be loaded due to missing permissions, " +
          'or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api',
        type: 'GraphMethodException',
        code: 100,
        error_subcode: 33,
        fbtrace_id: expect.stringMatching(/^A/),
      },
    });
    // A read receipt from it is refused the same way.
    const receipt = await postMessage('109999999999999', { status: 'read', message_id: 'wamid.x' });
    expect([receipt.status, json(receipt.bytes).error.code, json(receipt.bytes).error.error_subcode]).toEqual([400, 100, 33]);
    expect(graph.messages).toEqual([]);
    expect(graph.refused).toEqual([]);
    expect(graph.readReceipts).toEqual([]);
    expect(graph.calls.map((call) => call.status)).toEqual([400, 400]);

    // Both ids of test/fixtures/meta are the business's by default.
    expect([...graph.phoneNumberIds]).toEqual([...DEFAULT_PHONE_NUMBER_IDS]);
    for (const id of DEFAULT_PHONE_NUMBER_IDS) {
      expect((await postMessage(id, { to: '15551231001', type: 'text', text: { body: 'hi' } })).status).toBe(200);
    }
    expect(graph.messages.map((m) => m.phoneNumberId)).toEqual([...DEFAULT_PHONE_NUMBER_IDS]);
  });

  it('when the fake is given other phone number ids, then only those send, and reset() keeps them', async () => {
    const other = await startFakeGraphApi({ phoneNumberIds: ['111111111111111'] });
    try {
      other.reset();
      other.customerWrote('15551231002');
      const text = { to: '15551231002', type: 'text', text: { body: 'hi' } };
      const send = (id: string) =>
        fetch(`${other.baseURL}/${id}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${other.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ messaging_product: 'whatsapp', ...text }),
        });
      expect((await send('111111111111111')).status).toBe(200);
      expect((await send('106540352242922')).status).toBe(400);
      other.phoneNumberIds.add('106540352242922');
      expect((await send('106540352242922')).status).toBe(200);
      expect(other.messages.map((m) => m.phoneNumberId)).toEqual(['111111111111111', '106540352242922']);
    } finally {
      await other.close();
    }
  });

  it('when media is fetched with the token, then its description, then its bytes with its Content-Type', async () => {
    const { id } = graph.addMedia({ mimeType: 'audio/ogg; codecs=opus', bytes: VOICE_NOTE });
    expect(id).toMatch(/^\d{16}$/);
    const described = await getMedia(id);
    expect(described.status).toBe(200);
    const media = json(described.bytes);
    expect(media).toEqual({
      messaging_product: 'whatsapp',
      url: expect.stringMatching(/\/whatsapp_business\/attachments\/\?mid=\d+&ext=\d+&hash=/),
      mime_type: 'audio/ogg; codecs=opus',
      sha256: createHash('sha256').update(VOICE_NOTE).digest('hex'),
      file_size: VOICE_NOTE.length,
      id,
    });
    expect(new URL(media.url).origin).toBe(new URL(graph.baseURL).origin);

    const downloaded = await fetch(media.url, { headers: bearer() }).then(read);
    expect(downloaded.status).toBe(200);
    expect(downloaded.headers.get('content-type')).toBe('audio/ogg; codecs=opus');
    expect(downloaded.bytes.equals(VOICE_NOTE)).toBe(true);
    expect(graph.calls.map((call) => [call.method, call.status])).toEqual([
      ['GET', 200],
      ['GET', 200],
    ]);
  });

  it('when the media id is fetched without a token, with a wrong one, or is unknown, then 104, 190 and 100/33 as Graph answers', async () => {
    const { id } = graph.addMedia({ mimeType: 'audio/ogg', bytes: VOICE_NOTE });
    const missing = await getMedia(id, {});
    expect([missing.status, json(missing.bytes).error]).toEqual([
      400,
      { message: 'An access token is required to request this resource.', type: 'OAuthException', code: 104, fbtrace_id: expect.any(String) },
    ]);
    const wrong = await getMedia(id, { authorization: 'Bearer EAAG-not-the-token' });
    expect([wrong.status, json(wrong.bytes).error.type, json(wrong.bytes).error.code]).toEqual([401, 'OAuthException', 190]);
    const unknown = await getMedia('1234567890123456');
    expect(unknown.status).toBe(400);
    expect(json(unknown.bytes).error).toMatchObject({
      message: expect.stringMatching(/^Unsupported get request\. Object with ID '1234567890123456' does not exist/),
      type: 'GraphMethodException',
      code: 100,
      error_subcode: 33,
    });
  });

  it('when the media url is fetched without the token or with a wrong one, then 401 OAuthException 190 and no bytes', async () => {
    const { id } = graph.addMedia({ mimeType: 'audio/ogg', bytes: VOICE_NOTE });
    const { url } = json((await getMedia(id)).bytes);
    const refusals: Record<string, string>[] = [{}, { authorization: 'Bearer EAAG-not-the-token' }, { authorization: `Basic ${Buffer.from('x:y').toString('base64')}` }];
    for (const headers of refusals) {
      const refused = await fetch(url, { headers }).then(read);
      expect(refused.status).toBe(401);
      expect(json(refused.bytes).error).toMatchObject({ type: 'OAuthException', code: 190 });
    }
    expect((await fetch(url, { headers: bearer() })).status).toBe(200);
  });

  it('when the media url is older than 5 minutes, or reset() dropped the media, then 404; a fresh url from the id works again', async () => {
    const { id } = graph.addMedia({ mimeType: 'audio/ogg', bytes: VOICE_NOTE });
    const { url } = json((await getMedia(id)).bytes);
    graph.now = () => Date.now() + 5 * 60 * 1000;
    expect((await fetch(url, { headers: bearer() })).status).toBe(404);
    const fresh = json((await getMedia(id)).bytes).url;
    expect((await fetch(fresh, { headers: bearer() }).then(read)).bytes.equals(VOICE_NOTE)).toBe(true);

    graph.reset();
    expect((await fetch(fresh, { headers: bearer() })).status).toBe(404);
    expect((await getMedia(id)).status).toBe(400);
  });
});

describe('fake Twilio: media behind HTTP Basic authentication', () => {
  let fake: FakeTwilio;
  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  const credentials = () => basic(fake.accountSid, fake.authToken);

  beforeAll(async () => {
    fake = await startFakeTwilio();
  });
  afterEach(() => fake.reset());
  afterAll(() => fake?.close());

  it('addMedia gives a MediaUrl0-shaped URL under the message', () => {
    const { mediaSid, url } = fake.addMedia({ messageSid: 'MM0123456789abcdef0123456789abcdef', contentType: 'audio/ogg', bytes: VOICE_NOTE });
    expect(mediaSid).toMatch(/^ME[0-9a-f]{32}$/);
    expect(url).toBe(`${fake.apiBaseURL}/2010-04-01/Accounts/${fake.accountSid}/Messages/MM0123456789abcdef0123456789abcdef/Media/${mediaSid}`);
    expect(fake.addMedia({ contentType: 'image/jpeg', bytes: Buffer.from('x') }).url).toMatch(/\/Messages\/MM[0-9a-f]{32}\/Media\/ME[0-9a-f]{32}$/);
  });

  it('when the media URL is fetched with the account SID and auth token, then 307 to a short-lived URL that serves the bytes with their Content-Type', async () => {
    const { url } = fake.addMedia({ contentType: 'audio/ogg', bytes: VOICE_NOTE });
    const redirect = await fetch(url, { headers: credentials(), redirect: 'manual' });
    expect(redirect.status).toBe(307);
    const location = redirect.headers.get('location')!;
    expect(new URL(location).origin).toBe(fake.apiBaseURL);
    expect(location).not.toBe(url);

    // The short-lived URL is signed: no credentials needed.
    const direct = await fetch(location).then(read);
    expect([direct.status, direct.headers.get('content-type')]).toEqual([200, 'audio/ogg']);
    expect(direct.bytes.equals(VOICE_NOTE)).toBe(true);
    // fetch follows the redirect by itself.
    const followed = await fetch(url, { headers: credentials() }).then(read);
    expect(followed.status).toBe(200);
    expect(followed.bytes.equals(VOICE_NOTE)).toBe(true);
  });

  it('when the media URL is fetched without credentials, with a wrong auth token, or under another account, then 401 with error 20003', async () => {
    const { url } = fake.addMedia({ contentType: 'audio/ogg', bytes: VOICE_NOTE });
    const otherAccount = url.replace(fake.accountSid, 'AC' + 'f'.repeat(32));
    for (const [target, headers] of [
      [url, {}],
      [url, basic(fake.accountSid, '0'.repeat(32))],
      [url, { authorization: `Bearer ${fake.authToken}` }],
      [otherAccount, credentials()],
    ] as const) {
      const refused = await fetch(target, { headers, redirect: 'manual' }).then(read);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('location')).toBeNull();
      expect(json(refused.bytes)).toEqual({ code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
    }
  });

  it('when the media SID is unknown, or under another message, then 404 with error 20404', async () => {
    const { mediaSid, url } = fake.addMedia({ messageSid: 'MM' + '1'.repeat(32), contentType: 'audio/ogg', bytes: VOICE_NOTE });
    for (const target of [url.replace(mediaSid, 'ME' + '0'.repeat(32)), url.replace('MM' + '1'.repeat(32), 'MM' + '2'.repeat(32))]) {
      const missing = await fetch(target, { headers: credentials(), redirect: 'manual' }).then(read);
      expect([missing.status, json(missing.bytes).code]).toEqual([404, 20404]);
    }
  });

  it('when the short-lived URL is older than 4 hours, or reset() dropped the media, then it is refused (403); the media URL gives a fresh one', async () => {
    const { url } = fake.addMedia({ contentType: 'audio/ogg', bytes: VOICE_NOTE });
    const location = (await fetch(url, { headers: credentials(), redirect: 'manual' })).headers.get('location')!;
    fake.now = () => Date.now() + 4 * 60 * 60 * 1000;
    expect((await fetch(location)).status).toBe(403);
    const fresh = (await fetch(url, { headers: credentials(), redirect: 'manual' })).headers.get('location')!;
    expect((await fetch(fresh)).status).toBe(200);
    fake.reset();
    expect((await fetch(fresh)).status).toBe(403);
    expect((await fetch(url, { headers: credentials(), redirect: 'manual' })).status).toBe(404);
  });

  it('through the twilio package\'s RequestClient: 401 without credentials, 307 with them, and the file when it follows redirects', async () => {
    const text = Buffer.from('#!AMR\nnot really a voice note');
    const { url } = fake.addMedia({ contentType: 'audio/amr', bytes: text });
    const client = new twilio.RequestClient();
    // RequestClient (twilio 6.3) puts the Basic credentials into opts.headers: without a headers object
    // of the caller's they never leave, and the request goes out unauthenticated.
    const authenticated = { method: 'get' as const, uri: url, username: fake.accountSid, password: fake.authToken };
    const refused = await client.request({ method: 'get', uri: url, headers: {} });
    expect([refused.statusCode, (refused.body as { code: number }).code]).toEqual([401, 20003]);
    expect((await client.request(authenticated)).statusCode).toBe(401);
    const redirect = await client.request({ ...authenticated, headers: {} });
    expect(redirect.statusCode).toBe(307);
    expect(String(redirect.headers.location)).toMatch(new RegExp(`^${fake.apiBaseURL}/`));
    const followed = await client.request({ ...authenticated, headers: {}, allowRedirects: true });
    expect([followed.statusCode, followed.headers['content-type'], followed.body]).toEqual([200, 'audio/amr', text.toString('utf8')]);
  });
});
