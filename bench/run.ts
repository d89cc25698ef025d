// npm run bench [-- --quick] — see BENCHMARKS.md. Starts the real service against fakes with
// realistic latency, runs the five scenarios, prints their tables and writes everything as JSON to
// bench/results/<timestamp>.json.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { ackUnderLoad } from './ack-under-load.ts';
import { blockingBaseline } from './blocking-baseline.ts';
import { emergencyUnderLoad } from './emergency-under-load.ts';
import { endToEnd } from './end-to-end.ts';
import { eventLoopDuringIngest } from './event-loop-during-ingest.ts';
import { knowledgeFixture } from './knowledge-fixture.ts';
import { coldStart } from './cold-start.ts';
import { instancesThroughput } from './instances-throughput.ts';
import { memoryFootprint } from './memory-footprint.ts';
import { describeMachine } from './machine.ts';
import { parseOptions, USAGE } from './options.ts';
import { formatReport, type Results } from './report.ts';
import { startFakes } from './start-fakes.ts';
import { throughputAtCap } from './throughput-under-cap.ts';

const parsed = (() => {
  try {
    return parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    process.exit(2);
  }
})();
if (parsed === 'help') {
  console.log(USAGE);
  process.exit(0);
}
const options = parsed;
const machine = describeMachine();
const startedAt = new Date();
const progress = (message: string) => console.error(`[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${message}`);

const fakes = await startFakes({ embeddingMs: 0, chatMs: 0, triageMs: 0, sendMs: 0 });
const results: Results = {};
try {
  progress('building the knowledge fixture');
  const knowledge = await knowledgeFixture(fakes);

  if (options.only.has('ack')) {
    progress(`1. acknowledgement under load: ${options.ack.rates.join(', ')} a second, ${options.ack.seconds} s each`);
    results.ack = await ackUnderLoad(options, fakes, knowledge);
  }
  if (options.only.has('e2e')) {
    progress(`2. end to end: ${options.endToEnd.samples} messages`);
    results.endToEnd = await endToEnd(options, fakes, knowledge);
  }
  // The blocking baseline takes as long as the cap-1 run and, like it, spends its time waiting on the
  // fakes' latency: by default the two run side by side, each with fakes of its own (--sequential: apart).
  const baselineAlongside = options.only.has('baseline') && options.only.has('throughput') && options.throughput.caps.includes(1) && !options.sequential;
  if (options.only.has('throughput')) {
    results.throughput = [];
    for (const cap of options.throughput.caps) {
      progress(`3. throughput: ${options.throughput.patients} patients at cap ${cap}${cap === 1 && baselineAlongside ? ', with 4. the blocking baseline alongside' : ''}`);
      if (cap === 1 && baselineAlongside) {
        const baselineFakes = await startFakes(options.latency);
        try {
          const [atCap, baseline] = await Promise.all([
            throughputAtCap(options, fakes, knowledge, cap),
            sleep(1000).then(() => blockingBaseline(options, baselineFakes, knowledge)),
          ]);
          results.throughput.push(atCap);
          results.baseline = { ...baseline, alongsideCap1: true };
        } finally {
          await baselineFakes.close();
        }
      } else {
        results.throughput.push(await throughputAtCap(options, fakes, knowledge, cap));
      }
    }
  }
  if (options.only.has('baseline') && !baselineAlongside) {
    progress(`4. blocking baseline: ${options.throughput.patients} patients`);
    results.baseline = { ...(await blockingBaseline(options, fakes, knowledge)), alongsideCap1: false };
  }
  if (options.only.has('emergency')) {
    progress(`6. emergency replies while ${options.emergency.waitingQuestions} questions wait on a ${options.emergency.chatMs} ms model at cap 1`);
    results.emergency = await emergencyUnderLoad(options, fakes, knowledge);
  }
  if (options.only.has('ingest')) {
    progress(`5. event-loop delay while ingesting ${options.ingest.chunks} chunks`);
    results.ingest = await eventLoopDuringIngest(options, fakes);
  }
  if (options.only.has('memory')) {
    progress(`7. memory: the service in its own process, idle, at ${options.memory.rate}/s for ${options.memory.seconds} s, reopened, ingesting, on Supabase`);
    results.memory = await memoryFootprint(options, fakes);
  }
  if (options.only.has('instances')) {
    progress(`8. 1, 2 and 3 instances on one PostgreSQL, ${options.instances.patients} patients, one OpenAI cap of ${options.instances.cap}`);
    results.instances = await instancesThroughput(options, fakes);
  }
  if (options.only.has('cold')) {
    progress(`9. cold start: ${options.cold.rate} webhooks a second for ${options.cold.seconds} s from the first ready of a fresh process on disk`);
    results.cold = await coldStart(options, fakes, knowledge);
  }
} finally {
  await fakes.close();
}

const report = formatReport(machine, options, results);
console.log(`\n${report}\n`);
const finishedAt = new Date();
const name = startedAt.toISOString().replace(/[:.]/g, '-');
const file = new URL(`./results/${name}${options.quick ? '-quick' : ''}.json`, import.meta.url);
await mkdir(new URL('./results/', import.meta.url), { recursive: true });
await writeFile(`${file.pathname}.tmp`, `${JSON.stringify({ startedAt, finishedAt, machine, options: { ...options, only: [...options.only] }, results, report }, null, 2)}\n`);
await rename(`${file.pathname}.tmp`, file);
progress(`done in ${((finishedAt.getTime() - startedAt.getTime()) / 1000).toFixed(0)} s; results in bench/results/${name}${options.quick ? '-quick' : ''}.json`);
