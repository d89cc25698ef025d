import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { twilioEnv } from '../support/fake-env.ts';
import { spawnService, type SpawnedService } from '../support/spawn-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

describe('npm start (compiled JavaScript, a new data directory from the template)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clinic-npm-start-'));
  let twilioApi: FakeTwilio;
  let service: SpawnedService;

  beforeAll(async () => {
    twilioApi = await startFakeTwilio();
    service = await spawnService(
      { DATA_DIR: join(dir, 'data'), ...twilioEnv(twilioApi), CLINIC_NAME: 'Test Clinic', CLINIC_PHONE: '+15550000000', CLINIC_EMERGENCY_PHONE: '+15559999999' },
      { npmStart: true },
    );
  }, 120_000);
  afterAll(async () => {
    service?.child.kill('SIGTERM');
    await service?.exited;
    await twilioApi?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when started as npm start, then the service runs from build/ without a TypeScript loader, and a question is answered', async () => {
    // The shell exec'd node: the process is `node build/main.js`, no --import tsx.
    const commandLine = readFileSync(`/proc/${service.child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(commandLine.slice(-1)).toEqual(['build/main.js']);
    expect(commandLine).not.toContain('tsx');
    expect(readFileSync(`/proc/${service.child.pid}/environ`, 'utf8').split('\0')).toContain('MALLOC_ARENA_MAX=1');

    await waitFor(async () => (await fetch(`${service.url}/readyz`)).ok, { timeoutMs: 60_000 });
    const patient = '+15551230001';
    const response = await postTwilioWebhook(service.url, { From: patient, To: '+15557654321', Body: 'What is IVF?' }, { authToken: twilioApi.authToken });
    expect(response.status).toBe(200);
    const reply = await waitFor(() => twilioApi.messages.find((message) => message.to === patient), { timeoutMs: 30_000 });
    expect(reply.body).toMatch(/IVF|in vitro/i);
  });

  it('when the staff console is asked for, then its page (copied beside the compiled code) is served', async () => {
    const page = await fetch(`${service.url}/staff`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script');
  });
});
