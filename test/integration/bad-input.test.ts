import { readFileSync } from 'node:fs';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';

/**
 * Bad input of any kind gets a clear 4xx and stores nothing. Signatures are off here (no
 * TWILIO_AUTH_TOKEN or META_APP_SECRET, development mode) so that every body reaches the parser.
 */
describe('bad input never crashes the service', () => {
  let service: TestService;
  const stored = async () => Object.values(await service.inbox.stats()).reduce((sum, n) => sum + n, 0);

  beforeAll(async () => {
    service = await startTestService({});
  });
  afterAll(async () => {
    await service?.stop();
  });

  const post = (path: string, body: string | Uint8Array, contentType?: string) =>
    fetch(`${service.url}${path}`, { method: 'POST', body, ...(contentType ? { headers: { 'content-type': contentType } } : {}) });

  it('when a body is too large, then 413 with a reason', async () => {
    const response = await post('/webhooks/twilio', `Body=${'x'.repeat(200_000)}`, 'application/x-www-form-urlencoded');
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe('request body is too large');
  });

  it('when the content type is wrong, then 415 with a reason', async () => {
    const response = await post('/webhooks/twilio', JSON.stringify({ From: '+15551234567' }), 'application/json');
    expect(response.status).toBe(415);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/x-www-form-urlencoded/);
  });

  it('when the channel is unknown, then 404', async () => {
    expect((await post('/webhooks/telegram', 'hello', 'text/plain')).status).toBe(404);
  });

  it('when the bytes are not UTF-8, then 400', async () => {
    const response = await post('/webhooks/twilio', new Uint8Array([0x42, 0x6f, 0x64, 0x79, 0x3d, 0xff, 0xfe]), 'application/x-www-form-urlencoded');
    expect(response.status).toBe(400);
  });

  it('when a WhatsApp message holds half an emoji (a lone surrogate) after accented text, then it is stored whole with U+FFFD, not cut or refused', async () => {
    const payload = readFileSync('test/fixtures/meta/text-message.json', 'utf8')
      .replace('wamid.HBgLMTU1NTEyMzAxMDEVAgASGBQzQUY3QjI1QjQ2RDM4QzM1NkQ0RgA=', 'wamid.lone-surrogate')
      // Six times "€ then half an emoji", as JSON escapes: the text the patient's app sent.
      .replace('"Grüße! When do I start my injections? 💉🙏 ¿Cuándo empiezo?"', `"${'€\\udc00'.repeat(6)} when do I start?"`);
    const response = await post('/webhooks/meta', payload, 'application/json');
    expect(response.status).toBe(200);
    // Stored behind the 200, by the journal's drainer.
    const stored = await waitFor(async () => {
      const rows = await (service.db as PgliteDatabase).query<{ body: string }>("select body from inbox where provider_message_id = 'wamid.lone-surrogate'");
      return rows.length > 0 && rows;
    }, { what: 'the message to be stored' });
    expect(stored.map((row) => row.body)).toEqual([`${'€\uFFFD'.repeat(6)} when do I start?`]);
  });

  it('holds for thousands of malformed bodies: no 5xx, nothing stored', async () => {
    const keys = fc.constantFrom('MessageSid', 'From', 'To', 'Body', 'NumMedia', 'MessageStatus', 'AccountSid', 'x', '');
    const values = fc.oneof(fc.string(), fc.constantFrom('+15551234567', 'whatsapp:+1555', 'SM123', '-1', '99999999999', '%zz', '\u0000'));
    const form = fc.dictionary(keys, values).map((entries) => new URLSearchParams(entries).toString());
    // Meta-shaped JSON with the wrong types and missing fields in it, besides plain junk.
    const metaShaped = fc
      .record({
        object: fc.constantFrom('whatsapp_business_account', 'page', 1),
        entry: fc.array(fc.record({ id: fc.string(), changes: fc.array(fc.record({ field: fc.constantFrom('messages', 'x'), value: fc.jsonValue() })) })),
      })
      .map((value) => JSON.stringify(value));
    const body = fc.oneof(form, fc.string({ maxLength: 500 }), fc.uint8Array({ maxLength: 300 }), fc.json(), metaShaped);
    const contentType = fc.constantFrom(undefined, 'application/x-www-form-urlencoded', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded; charset=latin1');
    const path = fc.constantFrom('/webhooks/twilio', '/webhooks/twilio/status', '/webhooks/meta');
    const before = await stored();
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(path, body, contentType, async (target, payload, type) => {
        const response = await post(target, payload, type);
        await response.arrayBuffer();
        seen.add(response.status);
        expect(response.status).toBeLessThan(500);
        // Status callbacks are always acknowledged (DESIGN.md); what cannot be read is logged.
        if (target === '/webhooks/twilio/status' && response.status !== 413) expect(response.status).toBe(200);
      }),
      { numRuns: 3000 },
    );
    expect(await stored()).toBe(before);
    // Sanity: the run met real rejections, not one blanket answer.
    expect([...seen].filter((status) => status >= 400).length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
