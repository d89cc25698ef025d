import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type SpawnedService = {
  child: ChildProcess;
  url: string;
  /** JSON log lines so far. */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
};

/** package.json's `start`: src/ compiled into build/ when changed, then `exec node build/main.js`. */
export const START_SCRIPT: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start;

/**
 * Runs the service as its own process, so that tests can kill it for real (SIGKILL, SIGTERM):
 * `src/main.ts` through the TypeScript loader, or with `npmStart` exactly as `npm start` runs it (the
 * shell running package.json's script). Resolves once it listens and its worker has started.
 */
export async function spawnService(env: Record<string, string>, options: { npmStart?: boolean } = {}): Promise<SpawnedService> {
  const [command, args] = options.npmStart ? ['sh', ['-c', START_SCRIPT]] : [process.execPath, ['--import', 'tsx', 'src/main.ts']];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const wake of waiters) wake();
    }),
  );

  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 60_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const check = () => {
        const found = logs.find(predicate);
        if (found) return done(() => resolve(found));
        if (child.exitCode !== null || child.signalCode !== null) {
          done(() => reject(new Error(`service exited before the expected log line; stderr: ${stderr}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for a log line; stderr: ${stderr}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });

  const listening = await waitForLog((line) => line.msg === 'listening');
  await waitForLog((line) => line.msg === 'worker started');
  return { child, url: `http://127.0.0.1:${String(listening.port)}`, logs, exited, waitForLog };
}

/** The services one test file spawns, so that whatever a failed test left running is killed at the end. */
export function spawnedServices() {
  const running: SpawnedService[] = [];
  return {
    async spawn(env: Record<string, string>): Promise<SpawnedService> {
      const service = await spawnService(env);
      running.push(service);
      return service;
    },
    async killAll(): Promise<void> {
      for (const service of running) service.child.kill('SIGKILL');
      await Promise.all(running.map((service) => service.exited));
    },
  };
}
