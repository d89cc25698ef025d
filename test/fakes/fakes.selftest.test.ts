import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import twilio from 'twilio';
import type TwilioRequestClient from 'twilio/lib/base/RequestClient.js';
import { fakeEmbedding, startFakeOpenAI, type FakeOpenAI, type FakeOpenAICall } from './fake-openai.js';
import { startFakeTwilio, type FakeTwilio } from './fake-twilio.js';
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
    expect(res.choices[0]!.message.content).toBe('From "Opening hours": The clinic is open Monday to Friday, 8am to 6pm.');
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
  });

  it('says it does not know when there is no document, and chatReply can be replaced', async () => {
    const ask = () =>
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Do you do IVF?' }] });
    expect((await ask()).choices[0]!.message.content).toBe(
      "I'm sorry, the clinic's documents do not cover that. Please call the clinic.",
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
      },
    ]);
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
