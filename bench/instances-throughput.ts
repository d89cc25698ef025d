import { fileURLToPath } from 'node:url';

import { runIngestCli } from '../src/cli/ingest.ts';
import { waitFor } from '../test/fakes/wait-for.ts';
import { createTestDatabase, TEST_DATABASE_URL } from '../test/support/test-database.ts';
import { twilioWebhookRequest } from '../test/support/twilio-webhook-client.ts';
import type { BenchOptions } from './options.ts';
import { startServiceProcess, type ServiceProcess } from './service-process.ts';
import type { Fakes } from './start-fakes.ts';
import { CLINIC_NUMBER, patientNumber, question } from './workload.ts';

export type InstancesRun = {
  instances: number;
  messages: number;
  /** From the first webhook to the last reply accepted by the fake Twilio. */
  ms: number;
  perSecond: number;
  openaiMaxInFlight: number;
  cap: number;
};

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** This instance's share of OPENAI_MAX_CONCURRENCY, as it reports it (clinic_openai_share). */
async function openaiShare(service: ServiceProcess): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  return Number(/^clinic_openai_share (\d+)/m.exec(text)?.[1] ?? 0);
}

/**
 * Scenario 8. Several instances on one real PostgreSQL (TEST_DATABASE_URL): 1, 2, then 3 service
 * processes as `npm start` runs them, one OpenAI cap for them all (OPENAI_MAX_CONCURRENCY), the same
 * burst of questions from different patients spread over the instances in turn, against the fakes'
 * latency. Measured: messages answered a second, and the most OpenAI calls in flight at once across
 * every instance (the cap must hold however many instances share it).
 */
export async function instancesThroughput(options: BenchOptions, fakes: Fakes): Promise<{ skipped: string } | { runs: InstancesRun[] }> {
  if (!TEST_DATABASE_URL) return { skipped: 'TEST_DATABASE_URL is unset (../shared/tools/test-postgres start)' };
  const { cap, patients } = options.instances;
  const runs: InstancesRun[] = [];
  for (const count of [1, 2, 3]) {
    const database = await createTestDatabase(`bench_instances_${count}`);
    const services: ServiceProcess[] = [];
    try {
      await fakes.configure({ ...options.latency, embeddingMs: 0, chatMs: 0, triageMs: 0 });
      const env = { DATABASE_URL: database.url, ...fakes.env, OPENAI_MAX_CONCURRENCY: String(cap), PATIENT_RATE_LIMIT_PER_MINUTE: '1000' };
      const ingested = await runIngestCli(['knowledge'], { stdout: { write: () => true }, stderr: { write: () => true }, env, cwd: ROOT });
      if (ingested.exitCode !== 0) throw new Error(`ingest exited with ${ingested.exitCode}`);
      services.push(...(await Promise.all(Array.from({ length: count }, () => startServiceProcess(env)))));
      // Every instance has taken its share of the cap (the heartbeats re-divide it as instances join)
      // before the burst: their shares, read from /metrics, add up to the cap.
      await waitFor(async () => (await Promise.all(services.map(openaiShare))).reduce((a, b) => a + b, 0) === cap, {
        timeoutMs: 30_000,
        what: 'the instances to share the OpenAI cap',
      });
      await fakes.configure(options.latency);

      const first = 700_000 + count * 10_000;
      const expected = new Set(Array.from({ length: patients }, (_, i) => patientNumber(first + i)));
      let last = 0;
      const done = new Promise<void>((resolve) => {
        const stop = fakes.onReply(({ to, at }) => {
          if (!expected.delete(to)) return;
          last = Math.max(last, at);
          if (expected.size === 0) {
            stop();
            resolve();
          }
        });
      });
      const started = Date.now();
      await Promise.all(
        Array.from({ length: patients }, async (_, i) => {
          const service = services[i % services.length]!;
          const url = `${service.url}/webhooks/twilio`;
          const request = twilioWebhookRequest(url, { From: patientNumber(first + i), To: CLINIC_NUMBER, Body: question(i) }, { authToken: fakes.twilio.authToken });
          const response = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
          if (!response.ok) throw new Error(`webhook answered ${response.status}`);
        }),
      );
      await done;
      const stats = await fakes.stats();
      const ms = last - started;
      runs.push({ instances: count, messages: patients, ms, perSecond: patients / (ms / 1000), openaiMaxInFlight: stats.openai.maxInFlight, cap });
    } finally {
      await Promise.all(services.map((service) => service.stop()));
      await database.drop();
    }
  }
  return { runs };
}
