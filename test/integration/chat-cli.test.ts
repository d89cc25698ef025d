import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { get, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestService, type TestService } from '../support/start-test-service.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** `npm run chat` as a child process, with an environment of its own (no Twilio credentials). */
function runChat(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/chat.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
  }) as ChildProcessWithoutNullStreams;
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    exited,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    /** Resolves with stdout once it matches, as soon as it does; rejects after timeoutMs or if the chat exits first. */
    waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(stdout)) finish(() => resolve(stdout));
        };
        const onExit = () => finish(() => reject(new Error(`chat exited before printing ${pattern}; stdout: ${stdout}; stderr: ${stderr}`)));
        const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} after ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`))), timeoutMs);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.off('exit', onExit);
          settle();
        };
        child.stdout.on('data', check);
        child.on('exit', onExit);
        check();
      });
    },
  };
}

describe('npm run chat', () => {
  let service: TestService;

  beforeAll(async () => {
    // The embedded default: no OpenAI, no Twilio, no Meta.
    service = await startTestService();
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('when a question is typed, then it goes through the Twilio webhook and the answer from the embedded default is printed', async () => {
    const chat = runChat(['--url', service.url, '--from', '+15551230042']);
    chat.child.stdin.write('How much does treatment cost, and can I pay in instalments?\n');
    const output = await chat.waitForOutput(/clinic › From "Costs and Payment/);
    expect(output).toContain('+15550000000');
    const inbound = service.logs.find((line) => line.msg === 'inbound message stored' && line.from === '…0042');
    expect(inbound).toMatchObject({ channel: 'twilio', providerMessageId: expect.stringMatching(/^SM[0-9a-f]{32}$/) });

    chat.child.stdin.end();
    expect(await chat.exited).toBe(0);
    expect(chat.stderr).toContain('Texting +15550100000 as +15551230042');
  });

  it('when the input ends right after a question, then the chat waits for its answer before it exits', async () => {
    const chat = runChat(['--url', service.url, '--from', '+15551230043', '--to', '+15557654321']);
    chat.child.stdin.end('What is IVF?\n');
    expect(await chat.exited).toBe(0);
    expect(chat.stdout).toMatch(/^clinic › From "What Is IVF/m);
  });

  it('when a request comes through a proxy (ngrok connects from 127.0.0.1 too), then the development outbox refuses it', async () => {
    const query = 'patient=%2B15551230042&business=%2B15550100000';
    expect((await fetch(`${service.url}/dev/outbox?${query}`)).status).toBe(200);
    expect((await fetch(`${service.url}/dev/outbox?${query}`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(403);
    // fetch will not set Host; node:http will (ngrok forwards the public host name by default).
    const request = get(`${service.url}/dev/outbox?${query}`, { headers: { host: 'clinic.ngrok.app' } });
    const [response] = (await once(request, 'response')) as [IncomingMessage];
    response.resume();
    expect(response.statusCode).toBe(403);
  });

  it('when no server is running, then it says to start one with npm start and exits with 1', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));

    const chat = runChat(['--url', `http://127.0.0.1:${port}`]);
    expect(await chat.exited).toBe(1);
    expect(chat.stderr).toContain(`No server answers at http://127.0.0.1:${port}. Start it with \`npm start\``);
  });

  it('when --staff is given and STAFF_NUMBERS is empty, then it says so and exits with 2', async () => {
    const chat = runChat(['--url', service.url, '--staff']);
    expect(await chat.exited).toBe(2);
    expect(chat.stderr).toContain('STAFF_NUMBERS is empty');
  });
});
