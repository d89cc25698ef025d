import type { AckAtRate } from './ack-under-load.ts';
import type { EmergencyUnderLoad } from './emergency-under-load.ts';
import type { EndToEnd, EndToEndKind } from './end-to-end.ts';
import type { IngestDelay } from './event-loop-during-ingest.ts';
import { COLD_TARGET_P99_MS, type ColdRun } from './cold-start.ts';
import type { InstancesRun } from './instances-throughput.ts';
import type { MemoryFootprint } from './memory-footprint.ts';
import type { CpuShare, Machine } from './machine.ts';
import { markdownTable, ms, ratio, seconds } from './markdown-table.ts';
import type { BenchOptions } from './options.ts';
import type { Burst } from './patient-burst.ts';
import type { AtCap } from './throughput-under-cap.ts';

export type Results = {
  ack?: { warmUpSeconds: number; rates: AckAtRate[] };
  endToEnd?: EndToEnd;
  throughput?: AtCap[];
  baseline?: Burst & { alongsideCap1: boolean };
  ingest?: IngestDelay[];
  emergency?: EmergencyUnderLoad;
  memory?: MemoryFootprint;
  instances?: { skipped: string } | { runs: InstancesRun[] };
  cold?: ColdRun[];
};

const TARGETS = { ackP99Ms: 10, ackRate: 500, overheadMs: 50, capRatio: 1.1, loopP99Ms: 20 };

const verdict = (met: boolean) => (met ? 'met' : '**missed**');
const cpu = (share: CpuShare) => (share ? `${share.ownCores.toFixed(2)} / ${share.otherCores.toFixed(2)}${share.cpuPressure === undefined ? '' : ` / ${Math.round(share.cpuPressure * 100)}%`}` : '–');
const errors = (counts: Record<string, number>) => Object.entries(counts).map(([reason, count]) => `${count} ${reason}`).join(', ') || '0';

/** The tables of one run, in Markdown, as BENCHMARKS.md shows them. */
export function formatReport(machine: Machine, options: BenchOptions, results: Results): string {
  const { embeddingMs, chatMs, triageMs, sendMs } = options.latency;
  const out: string[] = [
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB; ${machine.os}; Node ${machine.node}; load average at start ${machine.loadAverage.join(', ')}.`,
    `Fakes: embedding ${embeddingMs} ms, chat completion ${chatMs} ms, model triage ${triageMs ?? 0} ms, Twilio send ${sendMs} ms; embedded database (PGlite) in memory.${options.quick ? ' **Quick (smoke) run.**' : ''}`,
    'CPU columns: cores used by the benchmark (service, fakes, load generator) / by everything else on the machine / share of time some task waited for a CPU.',
  ];

  if (results.ack) {
    out.push('', `### 1. Webhook acknowledgement under load (${options.ack.seconds} s a rate, OPENAI_MAX_CONCURRENCY ${options.ack.maxConcurrency})`, '');
    out.push(`One service for the three rates, after ${results.ack.warmUpSeconds} s of warm-up at 200/s; every webhook is a new question, so the pipeline is busy throughout.`, '');
    out.push(
      markdownTable(
        ['rate', 'sent', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'answered meanwhile', 'OpenAI in flight (max)', 'inbox pending after', 'generator lag p99 ms', 'CPU', `target p99 < ${TARGETS.ackP99Ms} ms`],
        results.ack.rates.map((row) => [
          `${row.rate}/s${row.pipeline === 'stopped' ? ', worker stopped (contrast)' : ''}`,
          String(row.sent),
          ms(row.latencyMs.p50),
          ms(row.latencyMs.p99),
          ms(row.latencyMs.max),
          errors(row.errors),
          String(row.answeredDuringLoad),
          String(row.openaiMaxInFlight),
          String(row.inboxPending),
          ms(row.generatorLagMs.p99),
          cpu(row.cpu),
          row.rate === TARGETS.ackRate && row.pipeline === 'busy' ? verdict(row.latencyMs.p99 < TARGETS.ackP99Ms && Object.keys(row.errors).length === 0) : '',
        ]),
      ),
    );
  }

  if (results.endToEnd) {
    const e2e = results.endToEnd;
    const rows = (label: string, kind: EndToEndKind) => [
      [`${label}: webhook to reply accepted by Twilio`, ms(kind.endToEndMs.p50), ms(kind.endToEndMs.p99), ms(kind.endToEndMs.max)],
      [`${label}: critical path`, ms(kind.criticalPathMs.p50), ms(kind.criticalPathMs.p99), ms(kind.criticalPathMs.max)],
      [`${label}: overhead (end to end − critical path)`, ms(kind.overheadMs.p50), ms(kind.overheadMs.p99), ms(kind.overheadMs.max)],
      [`${label}: webhook acknowledgement`, ms(kind.ackMs.p50), ms(kind.ackMs.p99), ms(kind.ackMs.max)],
    ];
    const stages = (kind: EndToEndKind) => Object.entries(kind.stageMeanMs).map(([stage, value]) => `${stage} ${ms(value)}`).join(', ');
    out.push('', `### 2. End to end, one patient at a time (${e2e.samples} questions, ${e2e.followUps.samples} follow-ups)`, '');
    out.push('Critical path: max(embedding, history [+ rewrite]) [+ embedding of the rewritten query] + search + chat + send.', '');
    out.push(markdownTable(['', 'p50 ms', 'p99 ms', 'max ms'], [...rows('question', e2e), ...rows('follow-up', e2e.followUps)]));
    out.push(
      '',
      `Stages as the service timed them (means per message, ms): questions ${stages(e2e)}; follow-ups ${stages(e2e.followUps)}. CPU ${cpu(e2e.cpu)}.`,
      `Target overhead p99 < ${TARGETS.overheadMs} ms: questions ${verdict(e2e.overheadMs.p99 < TARGETS.overheadMs)}, follow-ups ${verdict(e2e.followUps.overheadMs.p99 < TARGETS.overheadMs)}.`,
    );
  }

  if (results.throughput) {
    const patients = results.throughput[0]?.patients ?? options.throughput.patients;
    out.push('', `### 3. Throughput under a cap (${patients} patients at once)`, '');
    out.push('Bound = max(N·(embedding + chat)/cap, embedding + ⌈N/cap⌉·chat) + send: the OpenAI time the cap lets through, then the last send.');
    out.push('Slots busy: share of cap × (first OpenAI call to last answer) with a call in flight. Run-out: from the last moment the cap was full to the last OpenAI answer.', '');
    out.push(
      markdownTable(
        ['cap', 'all answered', 'bound', 'measured / bound', 'OpenAI in flight (max)', 'OpenAI calls', 'slots busy', 'first call / run-out', 'ack p50 ms', 'ack p99 ms', 'errors', 'CPU', `target ≤ ${ratio(TARGETS.capRatio)}`],
        results.throughput.map((row) => [
          String(row.cap),
          seconds(row.totalMs),
          seconds(row.boundMs),
          ratio(row.ratio),
          `${row.openaiMaxInFlight}${row.openaiMaxInFlight === Math.min(row.cap, row.patients) ? '' : ` (expected ${Math.min(row.cap, row.patients)})`}`,
          String(row.openaiCalls),
          `${(row.slots.busyShare * 100).toFixed(1)}%`,
          `${ms(row.slots.startMs)} ms / ${seconds(row.slots.runOutMs)}`,
          ms(row.ackMs.p50),
          ms(row.ackMs.p99),
          errors(row.errors),
          cpu(row.cpu),
          verdict(row.ratio <= TARGETS.capRatio && row.openaiMaxInFlight <= row.cap),
        ]),
      ),
    );
  }

  if (results.baseline) {
    const baseline = results.baseline;
    out.push('', `### 4. Blocking baseline: the same ${baseline.patients} patients at once, answered inside the request, one request at a time`, '');
    if (baseline.alongsideCap1) out.push('Ran alongside the cap-1 run of table 3, started a second after it (see BENCHMARKS.md).', '');
    const rows: string[][] = [['blocking handler', ms(baseline.ackMs.p50), ms(baseline.ackMs.p99), ms(baseline.ackMs.max), String(baseline.acksOver15s), seconds(baseline.totalMs), '', '']];
    for (const service of (results.throughput ?? []).filter((row) => row.patients === baseline.patients && (row.cap === 1 || row.cap === 4))) {
      rows.push([
        `this service, cap ${service.cap}${service.cap === 4 ? ' (default)' : ''}`,
        ms(service.ackMs.p50),
        ms(service.ackMs.p99),
        ms(service.ackMs.max),
        String(service.acksOver15s),
        seconds(service.totalMs),
        `${ratio(baseline.ackMs.p50 / service.ackMs.p50)} / ${ratio(baseline.ackMs.p99 / service.ackMs.p99)}`,
        ratio(baseline.totalMs / service.totalMs),
      ]);
    }
    out.push(markdownTable(['', 'ack p50 ms', 'ack p99 ms', 'ack max ms', 'acks after 15 s', 'all answered', 'ack ratio p50 / p99 (blocking ÷ service)', 'total-time ratio'], rows));
  }

  if (results.ingest) {
    out.push('', `### 5. Event-loop delay on the main thread while ingesting`, '');
    out.push('Delay = what monitorEventLoopDelay records (10 ms resolution) minus the 10 ms timer period.', '');
    out.push(
      markdownTable(
        ['database', 'embeddings', 'chunks', 'ingest', 'delay p50 ms', 'delay p99 ms', 'delay max ms', 'CPU', `target p99 < ${TARGETS.loopP99Ms} ms`],
        results.ingest.map((row) => [
          row.database,
          row.embeddings ? `yes (${embeddingMs} ms a batch)` : 'no',
          String(row.chunks),
          seconds(row.ingestMs),
          ms(row.delayMs.p50),
          ms(row.delayMs.p99),
          ms(row.delayMs.max),
          cpu(row.cpu),
          row.database === 'worker thread' ? verdict(row.delayMs.p99 < TARGETS.loopP99Ms) : '(contrast)',
        ]),
      ),
    );
  }
  if (results.emergency) {
    const e = results.emergency;
    out.push('', `### 6. Emergency reply while ${e.waitingQuestions} questions wait on a slow model (chat ${ms(e.chatMs)} ms, OPENAI_MAX_CONCURRENCY ${e.cap})`, '');
    out.push('From the emergency webhook to its fixed reply accepted by Twilio, every worker slot taken by a waiting question; the staff alerts go out meanwhile. Ratio: time ÷ the 2 s goal (under 1 meets it).', '');
    out.push(
      markdownTable(
        ['emergencies', 'p50 ms', 'max ms', 'questions still waiting after', 'max ÷ goal', `target < ${seconds(e.targetMs)}`],
        [[String(e.replyMs.count), ms(e.replyMs.p50), ms(e.replyMs.max), String(e.questionsStillWaiting), ratio(e.replyMs.max / e.targetMs), verdict(e.replyMs.max < e.targetMs)]],
      ),
    );
  }
  if (results.memory) {
    out.push('', '### 7. Memory (resident, from /proc, of the service process and any process it starts, worker threads included)', '');
    out.push(
      'The service as `npm start` runs it, in its own process, offline answers, the sample documents. Idle: 5 s after the first 200 of /readyz. ' +
        'Under load: the largest resident size seen (sampled every 100 ms). Peak: VmHWM. Ratio: resident ÷ the target (under 1 meets it).',
      '',
    );
    const row = (what: string, target: number, readyMs: number | undefined, mem: { rssMb: number; hwmMb: number }) => [
      what, readyMs === undefined ? '–' : seconds(readyMs), `${mem.rssMb} MB`, `${mem.hwmMb} MB`, `< ${target} MB`, ratio(mem.rssMb / target), verdict(mem.rssMb < target),
    ];
    const rows: string[][] = [];
    for (const r of results.memory.rows) {
      const external = r.case.startsWith('Supabase');
      if (r.idle) rows.push(row(`${r.case}: idle`, external ? 150 : 300, r.readyMs, r.idle));
      if (r.underLoad) rows.push(row(`${r.case}: ${r.underLoad.rate}/s for ${r.underLoad.seconds} s (${r.underLoad.errors} errors)`, 450, undefined, r.underLoad));
      if (r.run) rows.push(row(`${r.case}: ${seconds(r.run.ms)}`, 500, undefined, r.run));
    }
    out.push(markdownTable(['case', 'start to ready', 'resident', 'peak (VmHWM)', 'target', 'ratio', 'verdict'], rows));
  }
  if (results.instances) {
    out.push('', '### 8. Several instances on one PostgreSQL, one OpenAI cap', '');
    if ('skipped' in results.instances) {
      out.push(`Not run: ${results.instances.skipped}.`);
    } else {
      const base = results.instances.runs[0]!;
      out.push(
        `The same burst of questions (one each from ${base.messages} patients) spread over 1, 2 and 3 service processes in turn, OPENAI_MAX_CONCURRENCY ${base.cap} for the deployment. ` +
          'Ratio: messages a second ÷ those of one instance. The cap, not the number of processes, bounds the rate: more instances add room for webhooks and safety, not OpenAI calls.',
        '',
      );
      out.push(
        markdownTable(
          ['instances', 'messages', 'all answered in', 'messages a second', 'ratio to 1 instance', 'OpenAI in flight (max)', 'cap held'],
          results.instances.runs.map((run) => [
            String(run.instances), String(run.messages), seconds(run.ms), run.perSecond.toFixed(2), ratio(run.perSecond / base.perSecond),
            String(run.openaiMaxInFlight), verdict(run.openaiMaxInFlight <= run.cap),
          ]),
        ),
      );
    }
  }
  if (results.cold) {
    const blocking = results.cold.find((run) => run.case === 'blocking handler');
    const againstBlocking = (run: ColdRun) =>
      !blocking || run === blocking ? '' : `${ratio(blocking.latencyMs.p50 / run.latencyMs.p50)} / ${ratio(blocking.latencyMs.p99 / run.latencyMs.p99)}`;
    out.push('', '### 9. Cold start: webhooks from the first ready of a fresh process, on disk', '');
    out.push(
      'The service started as `npm start` starts it, signed Twilio webhooks at a fixed rate from the moment /readyz first answers 200, the pipeline busy with the fakes. ' +
        `Then the same load on a fresh blocking handler (table 4's, answering inside the request). A request not answered within Twilio's 15 s counts as 15 s (a lower bound). ` +
        `Ratios: p99 ÷ the ${COLD_TARGET_P99_MS} ms goal (under 1 meets it); blocking handler ÷ this service at p50 and p99.`,
      '',
    );
    out.push(
      markdownTable(
        ['run', 'start to ready', 'rate', 'sent', 'p50 ms', 'p99 ms', 'max ms', 'timed out (15 s)', 'errors', 'p99 ÷ goal', 'blocking ÷ this (p50 / p99)', `target p99 < ${COLD_TARGET_P99_MS} ms`],
        results.cold.map((run) => [
          run.case, seconds(run.readyMs), `${run.rate}/s`, String(run.sent), ms(run.latencyMs.p50), ms(run.latencyMs.p99), ms(run.latencyMs.max),
          String(run.timedOut ?? 0), String(run.errors), ratio(run.latencyMs.p99 / COLD_TARGET_P99_MS), againstBlocking(run),
          verdict(run.latencyMs.p99 < COLD_TARGET_P99_MS && run.errors === 0),
        ]),
      ),
      '',
      ...results.cold.filter((run) => run !== blocking).map((run) => `Slowest acknowledgement of each half second from ready, ${run.case} (ms): ${run.slowestByHalfSecondMs.join(', ')}`),
    );
  }
  return out.join('\n');
}
