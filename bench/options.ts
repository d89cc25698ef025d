import { parseArgs } from 'node:util';

import type { Latency } from './start-fakes.ts';

export const SCENARIOS = ['ack', 'e2e', 'throughput', 'baseline', 'ingest', 'emergency', 'memory', 'instances', 'cold'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export type BenchOptions = {
  quick: boolean;
  only: Set<ScenarioName>;
  latency: Latency;
  ack: { rates: number[]; seconds: number; warmUpSeconds: number; patients: number; maxConcurrency: number; contrastRate: number };
  endToEnd: { samples: number };
  throughput: { patients: number; caps: number[] };
  /** Pictures sent to warm a fresh service up before measuring (see warm-up-with-pictures.ts). */
  warmUpPictures: number;
  /** Run the blocking baseline on its own rather than alongside the cap-1 run (see BENCHMARKS.md). */
  sequential: boolean;
  ingest: { chunks: number };
  emergency: { waitingQuestions: number; chatMs: number; samples: number };
  memory: { rate: number; seconds: number };
  /** Several instances on TEST_DATABASE_URL: one OpenAI cap for all, a burst of this many patients. */
  instances: { cap: number; patients: number };
  /** A fresh process on disk meeting webhooks from its first ready on. */
  cold: { rate: number; seconds: number };
};

/** Every option, as a flag (`--ack-seconds 5`) or as the environment (`BENCH_ACK_SECONDS=5`); the flag wins. */
const FLAGS = {
  quick: { type: 'boolean' },
  sequential: { type: 'boolean' },
  only: { type: 'string' },
  'embedding-ms': { type: 'string' },
  'chat-ms': { type: 'string' },
  'send-ms': { type: 'string' },
  'triage-ms': { type: 'string' },
  'emergency-questions': { type: 'string' },
  'emergency-chat-ms': { type: 'string' },
  'emergency-samples': { type: 'string' },
  'ack-rates': { type: 'string' },
  'ack-seconds': { type: 'string' },
  'ack-warm-up': { type: 'string' },
  'ack-patients': { type: 'string' },
  'ack-cap': { type: 'string' },
  'ack-contrast-rate': { type: 'string' },
  samples: { type: 'string' },
  patients: { type: 'string' },
  caps: { type: 'string' },
  chunks: { type: 'string' },
  'memory-rate': { type: 'string' },
  'memory-seconds': { type: 'string' },
  'instances-cap': { type: 'string' },
  'instances-patients': { type: 'string' },
  'cold-rate': { type: 'string' },
  'cold-seconds': { type: 'string' },
  help: { type: 'boolean' },
} as const;

export const USAGE = `npm run bench [-- options]     every option also reads BENCH_<NAME> (BENCH_CHAT_MS=800)
  --quick              a smoke run of about a minute (2 s a rate, 8 patients, 200 chunks)
  --only a,b           scenarios: ${SCENARIOS.join(', ')}
  --embedding-ms 150   --chat-ms 1200   --triage-ms 400   --send-ms 80      latency of the fakes
  --emergency-questions 40   --emergency-chat-ms 3000   --emergency-samples 5   emergencies while questions wait on a slow model
  --ack-rates 100,500,1000   --ack-seconds 20   --ack-warm-up 10 (s at 200/s)   --ack-patients 2000   --ack-cap 4
  --ack-contrast-rate 500   then this rate again with the worker stopped (0: not)
  --samples 20         end-to-end questions (every other one followed by a follow-up)
  --patients 200       --caps 1,4,8,16     throughput under a cap
  --sequential         run the blocking baseline on its own, not alongside the cap-1 run
  --chunks 1000        chunks ingested while the event loop is watched
  --memory-rate 300    --memory-seconds 50    load while the service's resident memory is read
  --instances-cap 4    --instances-patients 60   1, 2 and 3 instances on TEST_DATABASE_URL, one OpenAI cap
  --cold-rate 200      --cold-seconds 10      webhooks from the first ready of a fresh process on disk`;

export function parseOptions(argv: string[], env: Record<string, string | undefined>): BenchOptions | 'help' {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true });
  if (values.help) return 'help';
  const raw = (name: keyof typeof FLAGS): string | boolean | undefined => values[name] ?? env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
  const quick = raw('quick') === true || raw('quick') === '1' || raw('quick') === 'true';
  const number = (name: keyof typeof FLAGS, full: number, smoke: number) => {
    const value = raw(name);
    if (value === undefined) return quick ? smoke : full;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name}: not a number: ${String(value)}`);
    return parsed;
  };
  const list = (name: keyof typeof FLAGS, full: number[], smoke: number[]) => {
    const value = raw(name);
    if (value === undefined) return quick ? smoke : full;
    const parsed = String(value).split(',').map(Number);
    if (parsed.some((item) => !Number.isInteger(item) || item <= 0)) throw new Error(`--${name}: not a list of positive integers: ${String(value)}`);
    return parsed;
  };
  const only = raw('only');
  const names = only === undefined ? [...SCENARIOS] : String(only).split(',');
  for (const name of names) if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`--only: unknown scenario ${name} (${SCENARIOS.join(', ')})`);
  const sequential = raw('sequential');
  return {
    quick,
    only: new Set(names as ScenarioName[]),
    latency: { embeddingMs: number('embedding-ms', 150, 150), chatMs: number('chat-ms', 1200, 1200), triageMs: number('triage-ms', 400, 400), sendMs: number('send-ms', 80, 80) },
    ack: { rates: list('ack-rates', [100, 500, 1000], [100, 500, 1000]), seconds: number('ack-seconds', 20, 2), warmUpSeconds: number('ack-warm-up', 10, 3), patients: number('ack-patients', 2000, 2000), maxConcurrency: number('ack-cap', 4, 4), contrastRate: number('ack-contrast-rate', 500, 500) },
    endToEnd: { samples: number('samples', 20, 3) },
    throughput: { patients: number('patients', 200, 8), caps: list('caps', [1, 4, 8, 16], [1, 4, 8, 16]) },
    warmUpPictures: quick ? 50 : 200,
    sequential: sequential === true || sequential === '1' || sequential === 'true',
    ingest: { chunks: number('chunks', 1000, 200) },
    emergency: { waitingQuestions: number('emergency-questions', 40, 40), chatMs: number('emergency-chat-ms', 3000, 3000), samples: number('emergency-samples', 5, 2) },
    memory: { rate: number('memory-rate', 300, 300), seconds: number('memory-seconds', 50, 5) },
    instances: { cap: number('instances-cap', 4, 4), patients: number('instances-patients', 60, 12) },
    cold: { rate: number('cold-rate', 200, 200), seconds: number('cold-seconds', 10, 3) },
  };
}
