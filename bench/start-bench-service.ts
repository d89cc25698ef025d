import { pino } from 'pino';

import { loadConfig } from '../src/config.ts';
import { createLogger, type Logger } from '../src/logger.ts';
import type { RunningService } from '../src/main.ts';
import { buildIfStale } from './service-process.ts';

/**
 * The real service, as `npm start` builds it, on 127.0.0.1 and a free port, with an embedded database
 * in memory loaded from `knowledge` (a dumped data directory, see knowledge-fixture.ts). It logs at
 * info, as in production, to /dev/null through the same synchronous writes it makes to stdout.
 *
 * Its code is the compiled JavaScript `npm start` runs (build/), not src/ through tsx: tsx keeps every
 * function's name by wrapping it (esbuild's keepNames), which costs tens of microseconds a webhook in
 * code that makes closures, a cost no deployed service pays.
 */
export async function startBenchService(env: Record<string, string>, options: { knowledge?: Uint8Array } = {}): Promise<RunningService> {
  await buildIfStale();
  // A computed specifier: build/ is made on demand and not type-checked; its types are src/main.ts's.
  const { start } = (await import(new URL('../build/main.js', import.meta.url).href)) as typeof import('../src/main.ts');
  const logger = benchLogger();
  const config = loadConfig({
    DATA_DIR: 'memory://',
    PORT: '0',
    CLINIC_NAME: 'Bench Fertility Clinic',
    CLINIC_PHONE: '+15550000000',
    CLINIC_EMERGENCY_PHONE: '+15559999999',
    ...env,
  });
  const service = await start(config, { logger, ...(options.knowledge ? { loadDataDir: options.knowledge } : {}) });
  await service.ready;
  return service;
}

/** The service's logger at info, writing synchronously (as to stdout) to /dev/null. */
export function benchLogger(): Logger {
  return createLogger({ level: 'info', pretty: false, destination: pino.destination({ dest: '/dev/null', sync: true }) });
}
