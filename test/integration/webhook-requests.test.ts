import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { gzipSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { twilioEnv } from '../support/fake-env.ts';
import { nonLoopbackAddress, requestTo } from '../support/outside-request.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { twilioWebhookRequest } from '../support/twilio-webhook-client.ts';

const CLINIC_NUMBER = '+15550100000';
const OUTSIDE = nonLoopbackAddress();

/**
 * The webhook routes read and answer their requests themselves, in front of Express (see
 * src/http/create-server.ts): what Express and body-parser did for them must still hold. Requests are
 * real HTTP over real connections, signed with the real signing code.
 */
describe('webhook requests, as HTTP', () => {
  let service: TestService;
  let twilioApi: FakeTwilio;
  let sentinels = 0;

  beforeAll(async () => {
    twilioApi = await startFakeTwilio();
    service = await startTestService(twilioEnv(twilioApi));
  });
  afterAll(async () => {
    await service?.stop();
    await twilioApi?.close();
  });

  /** A signed inbound SMS from `from`, as bytes and headers, for `url` (what Twilio signs; by default this server's route). */
  const signed = (from: string, url = `http://127.0.0.1:${service.port}/webhooks/twilio`) =>
    twilioWebhookRequest(url, { From: from, To: CLINIC_NUMBER, Body: 'What is IVF?' }, { authToken: twilioApi.authToken });

  /** A POST over a loopback connection, with the headers exactly as given (no fetch() defaults; Host is 127.0.0.1:port unless given). */
  const post = (headers: Record<string, string>, body: Buffer | string, options: { path?: string; agent?: Agent } = {}) =>
    requestTo('127.0.0.1', service.port, { method: 'POST', path: options.path ?? '/webhooks/twilio', headers, body, ...(options.agent ? { agent: options.agent } : {}) });

  /**
   * What one patient has stored, once everything acknowledged before now is stored: the webhooks' journal
   * stores in order, so a valid message sent now and found stored means any earlier one would be too.
   */
  const storedAfterAll = async (patient: string) => {
    const sentinel = `+1555222${String(++sentinels).padStart(4, '0')}`;
    const { headers, body } = signed(sentinel);
    expect((await post(headers, body)).status).toBe(200);
    await waitFor(async () => (await storedBodies(service, sentinel)).length > 0, { what: 'the sentinel message to be stored' });
    return storedBodies(service, patient);
  };

  it('when a signed webhook arrives gzip-compressed, then it is read, verified and stored', async () => {
    const { headers, body } = signed('+15551110001');
    const response = await post({ ...headers, 'content-encoding': 'gzip' }, gzipSync(body));
    expect(response.status).toBe(200);
    expect(response.body).toBe('<Response></Response>');
    expect(await storedAfterAll('+15551110001')).toEqual(['What is IVF?']);
  });

  it('when the body is in an encoding the server cannot read, then 415 with a reason and nothing stored', async () => {
    const { headers, body } = signed('+15551110002');
    const response = await post({ ...headers, 'content-encoding': 'compress' }, body);
    expect(response.status).toBe(415);
    expect(JSON.parse(response.body)).toEqual({ error: { code: 'encoding.unsupported', message: 'unsupported content encoding "compress"' } });
    expect(await storedAfterAll('+15551110002')).toEqual([]);
  });

  it('when a body without a Content-Length grows past the limit, then 413 with a reason and nothing stored', async () => {
    const { headers } = signed('+15551110003');
    const huge = new URLSearchParams({ From: '+15551110003', To: CLINIC_NUMBER, Body: 'x'.repeat(200_000) }).toString();
    // Chunked: the size is known only by reading, so the limit must be kept while reading.
    const response = await post({ ...headers, 'transfer-encoding': 'chunked' }, huge);
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body).error.message).toBe('request body is too large');
    expect(await storedAfterAll('+15551110003')).toEqual([]);
  });

  it('when a compressed body inflates past the limit, then 413, and its connection goes on to serve the next webhook', async () => {
    // One connection: if the rest of the refused body were left unread, the next request would wait behind it.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const refused = await post({ 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' }, gzipSync(randomBytes(1_000_000)), { agent });
    expect(refused.status).toBe(413);
    const next = signed('+15551110007');
    expect((await post(next.headers, next.body, { agent })).status).toBe(200);
    agent.destroy();
    expect(await storedAfterAll('+15551110007')).toEqual(['What is IVF?']);
  });

  it('when a body says gzip but is not, then 400 with a reason and nothing stored', async () => {
    const { headers, body } = signed('+15551110008');
    const response = await post({ ...headers, 'content-encoding': 'gzip' }, body);
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body).error.code).toBe('request.unreadable');
    expect(await storedAfterAll('+15551110008')).toEqual([]);
  });

  it('when the path is written in another case, with a final slash and a query, then it is the same route, verified over the URL as sent', async () => {
    const path = '/Webhooks/Twilio/?clinic=main';
    const { headers, body } = signed('+15551110004', `http://127.0.0.1:${service.port}${path}`);
    expect((await post(headers, body, { path })).status).toBe(200);
    expect(await storedAfterAll('+15551110004')).toEqual(['What is IVF?']);
  });

  it('when a proxy on this machine says the request came over https, then the https URL is the one verified', async () => {
    const { headers, body } = signed('+15551110005', 'https://clinic.example.org/webhooks/twilio');
    expect((await post({ ...headers, host: 'clinic.example.org' }, body)).status).toBe(403);
    expect((await post({ ...headers, host: 'clinic.example.org', 'x-forwarded-proto': 'https' }, body)).status).toBe(200);
    expect(await storedAfterAll('+15551110005')).toEqual(['What is IVF?']);
  });

  it.skipIf(!OUTSIDE)('when a peer that is not this machine says https, then it is not believed', async () => {
    const { headers, body } = signed('+15551110006', 'https://clinic.example.org/webhooks/twilio');
    const response = await requestTo(OUTSIDE!, service.port, { method: 'POST', path: '/webhooks/twilio', headers: { ...headers, host: 'clinic.example.org', 'x-forwarded-proto': 'https' }, body });
    expect(response.status).toBe(403);
    expect(await storedAfterAll('+15551110006')).toEqual([]);
  });

  it('when a webhook path is asked with another method, or a path is no route, then 404 as before', async () => {
    expect((await fetch(`${service.url}/webhooks/twilio`)).status).toBe(404);
    expect((await fetch(`${service.url}/webhooks/twilio/extra`, { method: 'POST', body: 'x' })).status).toBe(404);
  });
});

/** The texts stored from one patient, oldest first. */
async function storedBodies(service: TestService, patient: string): Promise<string[]> {
  const rows = await (service.db as PgliteDatabase).query<{ body: string }>('select body from inbox where patient = $1 order by id', [patient]);
  return rows.map((row) => row.body);
}
