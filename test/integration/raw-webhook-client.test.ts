import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rawWebhookClient, requestBytes } from '../../bench/raw-webhook-client.ts';
import { waitFor } from '../fakes/wait-for.ts';

/**
 * The benchmark's load generator measures the acknowledgement with its own small HTTP client: what it
 * reads must be what a real server answered, however the answer is framed.
 */
describe("the load generator's HTTP client (bench/raw-webhook-client.ts), against a real Node server", () => {
  let server: http.Server;
  let url: URL;
  const seen: { method: string; url: string; host: string | undefined; body: string }[] = [];
  let hold: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        const body = Buffer.concat(chunks).toString();
        seen.push({ method: req.method!, url: req.url!, host: req.headers.host, body });
        await hold;
        if (body === 'chunked') {
          res.writeHead(202, { 'content-type': 'text/plain' });
          res.write('part one, ');
          res.end('part two');
        } else if (body === 'close') {
          res.writeHead(503, { connection: 'close', 'content-length': '4' });
          res.end('gone');
        } else if (body === 'never') {
          // No answer: the client's deadline must end it.
        } else {
          res.writeHead(200, { 'content-type': 'text/xml', 'content-length': '21' });
          res.end('<Response></Response>');
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/twilio?x=1`);
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
  });

  const bytes = (body: string) => requestBytes(url, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

  it('when answers are framed by length, in chunks, or with a close, then each status is read, and the request arrived whole', async () => {
    const client = rawWebhookClient(url);
    expect(await client.post(bytes('Body=hello'), 5_000)).toEqual({ status: 200 });
    expect(await client.post(bytes('chunked'), 5_000)).toEqual({ status: 202 });
    expect(await client.post(bytes('close'), 5_000)).toEqual({ status: 503 });
    expect(await client.post(bytes('Body=again'), 5_000)).toEqual({ status: 200 });
    expect(seen.slice(-4).map((request) => request.body)).toEqual(['Body=hello', 'chunked', 'close', 'Body=again']);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/webhooks/twilio?x=1', host: url.host });
    client.destroy();
  });

  it('when requests are sent while earlier ones wait, then each goes on a connection of its own and none is mixed up', async () => {
    const client = rawWebhookClient(url);
    let release = () => {};
    hold = new Promise<void>((resolve) => (release = resolve));
    const before = seen.length;
    const answers = Array.from({ length: 20 }, (_, index) => client.post(bytes(`Body=${index}`), 5_000));
    await waitFor(() => seen.length === before + 20, { what: 'all 20 requests at the server at once' });
    release();
    expect(await Promise.all(answers)).toEqual(Array.from({ length: 20 }, () => ({ status: 200 })));
    hold = Promise.resolve();
    client.destroy();
  });

  it('when no answer comes, then the request ends as a timeout', async () => {
    const client = rawWebhookClient(url);
    expect(await client.post(bytes('never'), 200)).toEqual({ error: 'timeout' });
    client.destroy();
  });
});
