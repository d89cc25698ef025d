import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { twilioEnv } from '../support/fake-env.ts';
import { metaFixture, signMetaPayload } from '../support/meta-webhook-client.ts';
import { nonLoopbackAddress, requestTo } from '../support/outside-request.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { twilioWebhookRequest } from '../support/twilio-webhook-client.ts';

const STAFF = '+15550001111';
const APP_SECRET = 'meta-app-secret-for-open-doors';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
/** Another machine, as this one sees it: a real connection from an address that is not loopback. */
const OUTSIDE = nonLoopbackAddress();
const NO_OUTSIDE = 'this machine has no non-loopback address to connect from';

/** Outside as best this machine can be: another address, or else loopback through a (pretend) proxy. */
const outside: { address: string; headers: Record<string, string> } = OUTSIDE
  ? { address: OUTSIDE, headers: {} }
  : { address: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.9' } };

const storedCount = async (service: TestService) => Object.values(await service.inbox.stats()).reduce((sum, n) => sum + n, 0);

/** An unsigned Twilio webhook (the staff #debug command from a staff number, forged), as bytes and headers. */
function forgedTwilio(port: number) {
  const { headers, body } = twilioWebhookRequest(`http://127.0.0.1:${port}/webhooks/twilio`, { From: STAFF, To: '+15550100000', Body: '#debug on' });
  return { headers: { ...headers, host: `127.0.0.1:${port}` }, body };
}

/**
 * What is reachable from outside this machine: with a channel's secret unset its webhooks are open to
 * this machine only (npm run chat), /metrics needs METRICS_TOKEN, /healthz and /readyz say only a status.
 * "Outside" is tested two honest ways through the real server: a connection from this machine's
 * non-loopback address (the peer the server sees is not loopback), and a loopback connection carrying
 * what a tunnel or proxy adds (X-Forwarded-For, Forwarded, a public Host).
 */
describe('no open doors', () => {
  describe('a Meta-only deployment (META_APP_SECRET set, no TWILIO_AUTH_TOKEN) with METRICS_TOKEN', () => {
    let service: TestService;
    beforeAll(async () => {
      service = await startTestService({ META_APP_SECRET: APP_SECRET, STAFF_NUMBERS: STAFF, METRICS_TOKEN });
    });
    afterAll(async () => {
      await service?.stop();
    });

    it.skipIf(!OUTSIDE)(`when an unsigned Twilio webhook (a forged staff command) comes from another address, then 403 and nothing is stored${OUTSIDE ? '' : ` (skipped: ${NO_OUTSIDE})`}`, async () => {
      const before = await storedCount(service);
      const response = await requestTo(OUTSIDE!, service.port, { method: 'POST', path: '/webhooks/twilio', ...forgedTwilio(service.port) });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'signature_unverifiable' } });
      expect(await storedCount(service)).toBe(before);
    });

    it.each([
      ['X-Forwarded-For (ngrok, a reverse proxy)', { 'x-forwarded-for': '203.0.113.9' }],
      ['Forwarded', { forwarded: 'for=203.0.113.9;proto=https' }],
      ['a public Host', { host: 'clinic.example.org' }],
    ])('when an unsigned Twilio webhook reaches loopback with %s, then 403 and nothing is stored', async (_name, extra) => {
      const before = await storedCount(service);
      const { headers, body } = forgedTwilio(service.port);
      const response = await requestTo('127.0.0.1', service.port, { method: 'POST', path: '/webhooks/twilio', headers: { ...headers, ...extra }, body });
      expect(response.status).toBe(403);
      expect(await storedCount(service)).toBe(before);
    });

    it('when an unsigned Twilio webhook is made on this machine (npm run chat), then it is stored', async () => {
      const before = await storedCount(service);
      const { headers, body } = forgedTwilio(service.port);
      const response = await requestTo('127.0.0.1', service.port, { method: 'POST', path: '/webhooks/twilio', headers, body });
      expect(response.status).toBe(200);
      await waitFor(async () => (await storedCount(service)) === before + 1, { what: 'the message to be stored' });
    });

    it.skipIf(!OUTSIDE)('when a signed Meta webhook comes from another address, then it is stored: the secret, not the address, admits it', async () => {
      const before = await storedCount(service);
      const body = metaFixture('text-message');
      const response = await requestTo(OUTSIDE!, service.port, {
        method: 'POST',
        path: '/webhooks/meta',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaPayload(APP_SECRET, body) },
        body,
      });
      expect(response.status).toBe(200);
      await waitFor(async () => (await storedCount(service)) === before + 1, { what: 'the message to be stored' });
    });

    it('when /metrics is asked from outside, then only the bearer token opens it; on this machine it needs none', async () => {
      const scrape = (headers: Record<string, string>) => requestTo(outside.address, service.port, { path: '/metrics', headers: { ...outside.headers, ...headers } });
      const none = await scrape({});
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(none.body).not.toMatch(/clinic_/);
      expect((await scrape({ authorization: `Bearer ${METRICS_TOKEN}x` })).status).toBe(401);
      expect((await scrape({ authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}` })).status).toBe(401);
      const allowed = await scrape({ authorization: `Bearer ${METRICS_TOKEN}` });
      expect(allowed.status).toBe(200);
      expect(allowed.body).toMatch(/^# HELP clinic_/m);
      // Through a tunnel on this machine it is "outside" too.
      expect((await requestTo('127.0.0.1', service.port, { path: '/metrics', headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(401);
      const local = await fetch(`${service.url}/metrics`);
      expect(local.status).toBe(200);
      expect(await local.text()).toMatch(/^# HELP clinic_/m);
    });

    it('when /healthz and /readyz are asked from outside, then they answer with their status and nothing else', async () => {
      for (const [path, status] of [['/healthz', 'ok'], ['/readyz', 'ready']] as const) {
        const response = await requestTo(outside.address, service.port, { path, headers: outside.headers });
        expect(response.status, path).toBe(200);
        expect(JSON.parse(response.body), path).toEqual({ status });
        expect(response.headers['x-powered-by'], path).toBeUndefined();
      }
    });
  });

  describe('a Twilio-only deployment (TWILIO_AUTH_TOKEN set, no META_APP_SECRET, no METRICS_TOKEN)', () => {
    let twilioApi: FakeTwilio;
    let service: TestService;
    beforeAll(async () => {
      twilioApi = await startFakeTwilio();
      service = await startTestService({ ...twilioEnv(twilioApi) });
    });
    afterAll(async () => {
      await service?.stop();
      await twilioApi?.close();
    });

    it('when an unsigned Meta webhook comes through a proxy or from another address, then 401 and nothing is stored; made on this machine, it is stored', async () => {
      const body = metaFixture('text-message');
      const headers = { 'content-type': 'application/json', host: `127.0.0.1:${service.port}` };
      const before = await storedCount(service);
      const forwarded = await requestTo('127.0.0.1', service.port, { method: 'POST', path: '/webhooks/meta', headers: { ...headers, 'x-forwarded-for': '203.0.113.9' }, body });
      expect(forwarded.status).toBe(401);
      if (OUTSIDE) expect((await requestTo(OUTSIDE, service.port, { method: 'POST', path: '/webhooks/meta', headers, body })).status).toBe(401);
      expect(await storedCount(service)).toBe(before);
      expect((await requestTo('127.0.0.1', service.port, { method: 'POST', path: '/webhooks/meta', headers, body })).status).toBe(200);
      await waitFor(async () => (await storedCount(service)) === before + 1, { what: 'the message to be stored' });
    });

    it.skipIf(!OUTSIDE)(`when /metrics is asked from another address and no METRICS_TOKEN is set, then 403 whatever the header says${OUTSIDE ? '' : ` (skipped: ${NO_OUTSIDE})`}`, async () => {
      const response = await requestTo(OUTSIDE!, service.port, { path: '/metrics', headers: { authorization: 'Bearer anything-at-all-really' } });
      expect(response.status).toBe(403);
      expect(response.body).not.toMatch(/clinic_/);
    });
  });
});
