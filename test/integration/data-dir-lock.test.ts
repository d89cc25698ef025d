import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestService, type TestService } from '../support/start-test-service.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('one process per DATA_DIR', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clinic-lock-'));
  const dataDir = join(dir, 'pglite');
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ DATA_DIR: dataDir });
  });
  afterAll(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a second process starts on a DATA_DIR in use, then it refuses with a message naming the directory', async () => {
    const { code, stderr } = await runMain({ DATA_DIR: dataDir });
    expect(code).toBe(1);
    expect(stderr).toContain(`DATA_DIR ${dataDir} is already in use by process ${process.pid}`);
    // The first one is unharmed.
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
  });

  it('when the same process asks twice, then the second start is refused too', async () => {
    await expect(startTestService({ DATA_DIR: dataDir })).rejects.toThrow(/already in use/);
  });

  it('when a lock was left by a process that died, then it is taken over', async () => {
    const other = join(dir, 'crashed');
    // pid 2^22+1 is above Linux's pid_max default, so no live process has it.
    writeFileSync(`${other}.lock`, String(4_194_305));
    const second = await startTestService({ DATA_DIR: other });
    expect((await fetch(`${second.url}/healthz`)).status).toBe(200);
    await second.stop();
  });

  it('when an environment variable is bad, then the start fails naming it', async () => {
    const { code, stderr } = await runMain({ DATA_DIR: 'memory://', OPENAI_MAX_CONCURRENCY: 'lots' });
    expect(code).toBe(1);
    expect(stderr).toContain('OPENAI_MAX_CONCURRENCY');
  });
});
