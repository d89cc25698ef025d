import { Writable } from 'node:stream';

import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { start, type RunningService, type StartOptions } from '../../src/main.ts';

export type LogLine = Record<string, unknown> & { level: number; msg?: string };

export type TestService = RunningService & { logs: LogLine[] };

/**
 * Starts the real service (real HTTP server on port 0, real embedded database in memory) with the
 * given environment on top of test defaults. Log lines are kept for the tests to read.
 */
export async function startTestService(env: Record<string, string> = {}, options: StartOptions & { logLevel?: string } = {}): Promise<TestService> {
  const logs: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  // The service's own logger (serializers, redaction), writing JSON lines to the test instead of stdout.
  const logger = createLogger({ level: options.logLevel ?? 'info', pretty: false, destination: stream });
  const config = loadConfig({ DATA_DIR: 'memory://', PORT: '0', CLINIC_NAME: 'Test Fertility Clinic', CLINIC_PHONE: '+15550000000', CLINIC_EMERGENCY_PHONE: '+15559999999', ...env });
  const service = await start(config, { logger, ...options, worker: { pollIntervalMs: 50, retryBaseDelayMs: 50, ...options.worker } });
  await service.ready;
  return Object.assign(service, { logs });
}
