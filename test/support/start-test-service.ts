import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { inject } from 'vitest';

import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { start, type RunningService, type StartOptions } from '../../src/main.ts';

export type LogLine = Record<string, unknown> & { level: number; msg?: string };

export type TestService = RunningService & { logs: LogLine[] };

/**
 * Starts the real service (real HTTP server on port 0, real embedded database in memory) with the
 * given environment on top of test defaults. Log lines are kept for the tests to read. An in-memory
 * database starts from the knowledge fixture built once per run (test/support/global-setup.ts),
 * unless `fresh` asks for a real first start (migrations and ingestion included).
 */
export async function startTestService(
  env: Record<string, string> = {},
  options: StartOptions & { logLevel?: string; fresh?: boolean } = {},
): Promise<TestService> {
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
  const fixtures = knowledgeFixtures();
  const fixture =
    fixtures && config.dataDir === 'memory://' && !config.supabase && !options.fresh && !options.loadDataDir
      ? readFileSync(join(fixtures, `${config.openai.apiKey ? 'embedded' : 'offline'}.tar`))
      : undefined;
  const service = await start(config, {
    logger,
    ...options,
    ...(fixture ? { loadDataDir: new Uint8Array(fixture) } : {}),
    worker: { pollIntervalMs: 50, retryBaseDelayMs: 50, ...options.worker },
  });
  await service.ready;
  return Object.assign(service, { logs });
}

/** The fixture folder under vitest; none when called from elsewhere (the benchmarks), which then start fresh. */
function knowledgeFixtures(): string | undefined {
  try {
    return inject('knowledgeFixtures');
  } catch {
    return undefined;
  }
}
