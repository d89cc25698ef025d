import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { spawnService, type SpawnedService } from '../support/spawn-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC = '+15557654321';

describe('crash safety and graceful shutdown (real processes)', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  const dir = mkdtempSync(join(tmpdir(), 'clinic-crash-'));
  const running: SpawnedService[] = [];

  const env = (dataDir: string, extra: Record<string, string> = {}) => ({
    DATA_DIR: dataDir,
    ...openaiEnv(openai),
    ...twilioEnv(twilioApi),
    CLINIC_NAME: 'Test Clinic',
    CLINIC_PHONE: '+15550000000',
    CLINIC_EMERGENCY_PHONE: '+15559999999',
    ...extra,
  });
  const spawnTracked = async (environment: Record<string, string>) => {
    const service = await spawnService(environment);
    running.push(service);
    return service;
  };
  const send = (service: SpawnedService, from: string, body: string) =>
    postTwilioWebhook(service.url, { From: from, To: CLINIC, Body: body }, { authToken: twilioApi.authToken });

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
  });
  afterAll(async () => {
    for (const service of running) service.child.kill('SIGKILL');
    await Promise.all(running.map((service) => service.exited));
    await Promise.all([openai?.close(), twilioApi?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the process is killed with SIGKILL while 20 messages are in flight, then the next start answers all 20', async () => {
    const dataDir = join(dir, 'kill');
    const first = await spawnTracked(env(dataDir, { OPENAI_MAX_CONCURRENCY: '4' }));
    openai.reset();
    twilioApi.reset();
    openai.latency.chat = 1500;
    const patients = Array.from({ length: 20 }, (_, i) => `+1555300${String(i).padStart(4, '0')}`);
    const statuses = await Promise.all(patients.map((from) => send(first, from, 'What happens at embryo transfer?').then((r) => r.status)));
    expect(statuses.every((status) => status === 200)).toBe(true);
    await waitFor(() => openai.inFlight >= 4, { what: 'answers in flight' });
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const answeredBeforeCrash = new Set(twilioApi.messages.map((m) => m.to)).size;
    expect(answeredBeforeCrash).toBeLessThan(20);

    openai.latency.chat = 0;
    const second = await spawnTracked(env(dataDir));
    await waitFor(() => new Set(twilioApi.messages.map((m) => m.to)).size === 20, { what: 'all 20 patients answered', timeoutMs: 60_000 });
    expect(new Set(twilioApi.messages.map((m) => m.to))).toEqual(new Set(patients));
    await second.waitForLog((line) => line.msg === 'messages left in flight by an earlier process are due again');
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 120_000);

  it('when SIGTERM arrives with answers in flight, then new webhooks are refused and the answers in flight are finished before exit', async () => {
    const dataDir = join(dir, 'drain');
    const service = await spawnTracked(env(dataDir, { SHUTDOWN_TIMEOUT_MS: '20000' }));
    openai.reset();
    twilioApi.reset();
    openai.latency.chat = 1000;
    const patients = Array.from({ length: 5 }, (_, i) => `+1555310${String(i).padStart(4, '0')}`);
    await Promise.all(patients.map((from) => send(service, from, 'What is IVF?')));
    await waitFor(() => openai.inFlight >= 1, { what: 'answers in flight' });
    expect(twilioApi.messages).toHaveLength(0);
    service.child.kill('SIGTERM');
    await service.waitForLog((line) => line.msg === 'shutting down');
    await expect(send(service, '+15553109999', 'too late')).rejects.toThrow();
    expect((await service.exited).code).toBe(0);
    expect(new Set(twilioApi.messages.map((m) => m.to))).toEqual(new Set(patients));
  }, 120_000);

  it('when SIGTERM cannot finish within SHUTDOWN_TIMEOUT_MS, then it exits anyway and the next start answers what was left', async () => {
    const dataDir = join(dir, 'timeout');
    const service = await spawnTracked(env(dataDir, { SHUTDOWN_TIMEOUT_MS: '300', OPENAI_TIMEOUT_MS: '60000' }));
    openai.reset();
    twilioApi.reset();
    openai.latency.chat = 10_000;
    await send(service, '+15553200001', 'What is IVF?');
    await waitFor(() => openai.inFlight >= 1, { what: 'answer in flight' });
    service.child.kill('SIGTERM');
    expect((await service.exited).code).toBe(0);
    expect(twilioApi.messages).toHaveLength(0);

    openai.latency.chat = 0;
    const next = await spawnTracked(env(dataDir));
    await twilioApi.waitForMessages(1, 60_000);
    expect(twilioApi.messages[0]!.to).toBe('+15553200001');
    next.child.kill('SIGTERM');
    await next.exited;
  }, 120_000);
});
