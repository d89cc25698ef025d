import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

import { START_SCRIPT } from '../test/support/spawn-service.ts';

/** Resident memory of a process and every process under it, worker threads included (they share the process). */
export type Memory = { rssMb: number; hwmMb: number };

/** VmRSS and VmHWM from /proc, summed over `pid` and its descendants, as an operator's tools would see them. */
export function memoryOf(pid: number): Memory {
  let rss = 0;
  let hwm = 0;
  for (const id of [pid, ...descendantsOf(pid)]) {
    try {
      const status = readFileSync(`/proc/${id}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      hwm += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // Gone meanwhile.
    }
  }
  return { rssMb: Math.round(rss / 1024), hwmMb: Math.round(hwm / 1024) };
}

function descendantsOf(pid: number): number[] {
  const found: number[] = [];
  try {
    for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
      found.push(Number(task), ...descendantsOf(Number(task)));
    }
  } catch {
    // No children file (exited).
  }
  return found;
}

/** Samples a process's memory every `everyMs` until stopped: the largest resident size seen, and the last high-water mark. */
export function sampleMemory(pid: number, everyMs = 100) {
  let peak: Memory = memoryOf(pid);
  const timer = setInterval(() => {
    const now = memoryOf(pid);
    if (now.hwmMb > 0) peak = { rssMb: Math.max(peak.rssMb, now.rssMb), hwmMb: Math.max(peak.hwmMb, now.hwmMb) };
  }, everyMs);
  return {
    stop(): Memory {
      clearInterval(timer);
      return peak;
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export type ServiceProcess = {
  pid: number;
  url: string;
  /** From the spawn to the first 200 of /readyz. */
  readyMs: number;
  child: ChildProcess;
  stop(): Promise<void>;
};

/**
 * The service as an operator starts it: package.json's `start` script (src/ compiled into build/ when
 * changed, then `exec node build/main.js` with its environment), run by the shell as npm runs it but
 * without npm's own process, in a process of its own, with `env` on top of this one's. Resolves at the
 * first 200 of /readyz; the time to ready counts after a build, if one was due.
 */
export async function startServiceProcess(env: Record<string, string>, options: { port?: number } = {}): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  await buildIfStale();
  const started = performance.now();
  const child = spawn('sh', ['-c', START_SCRIPT], {
    env: { ...process.env, LOG_LEVEL: 'warn', CLINIC_NAME: 'Bench Fertility Clinic', CLINIC_PHONE: '+15550000000', CLINIC_EMERGENCY_PHONE: '+15559999999', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = once(child, 'exit');
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited before it was ready:\n${stderr}`);
    const ready = await fetch(`${url}/readyz`).then((response) => response.ok, () => false);
    if (ready) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    pid: child.pid!,
    url,
    readyMs: Math.round(performance.now() - started),
    child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `npm start`'s first step: compile src/ into build/ if a file changed since the last build. */
export async function buildIfStale(): Promise<void> {
  const child = spawn(process.execPath, ['scripts/build.mjs', '--if-stale'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`scripts/build.mjs exited with ${code}`);
}

/** Runs a command to its end (`npm run ingest`), sampling its memory meanwhile. */
export async function runSampled(args: string[], env: Record<string, string>): Promise<{ ms: number; memory: Memory; code: number | null }> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  const sampler = sampleMemory(child.pid!, 50);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { ms: Math.round(performance.now() - started), memory: sampler.stop(), code };
}
