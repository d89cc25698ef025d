// npx tsx bench/diagnose-enqueue.ts
//
// What storing one webhook costs the embedded database's thread, without HTTP or a load generator
// (BENCHMARKS.md): inbox.enqueue with 1, 2, 5 and 10 calls in flight at once (group commit folds the
// ones that wait into one batch), then one every 5 ms, as at 200 webhooks a second, with its latency.
import { setTimeout as sleep } from 'node:timers/promises';

import type { InboundMessage } from '../src/channels/channel.ts';
import { applyMigrations } from '../src/db/migrate.ts';
import { openPgliteDatabase } from '../src/db/pglite/pglite-database.ts';
import { createInbox } from '../src/store/inbox.ts';
import { summarize } from './stats.ts';
import { CLINIC_NUMBER, patientNumber, question } from './workload.ts';

const RATE_LIMIT = 10;
const db = openPgliteDatabase({ dataDir: 'memory://' });
try {
  await applyMigrations(db);
  const inbox = createInbox(db);
  let next = 0;
  const message = (): InboundMessage => {
    const index = next++;
    return { channel: 'twilio', providerMessageId: `SM-diagnose-${index}`, patient: patientNumber(index % 2000), business: CLINIC_NUMBER, body: question(index), kind: 'text' };
  };
  // A backlog first, so that the table and its indexes are not empty.
  for (let index = 0; index < 3000; index++) await inbox.enqueue(message(), RATE_LIMIT);

  for (const atOnce of [1, 2, 5, 10]) {
    const started = performance.now();
    for (let round = 0; round < 3000 / atOnce; round++) {
      await Promise.all(Array.from({ length: atOnce }, () => inbox.enqueue(message(), RATE_LIMIT)));
    }
    console.log(`${String(atOnce).padStart(2)} in flight at once: ${((performance.now() - started) / 3000).toFixed(3)} ms a message`);
  }

  const latencies: number[] = [];
  for (let index = 0; index < 2000; index++) {
    const started = performance.now();
    await inbox.enqueue(message(), RATE_LIMIT);
    const took = performance.now() - started;
    latencies.push(took);
    await sleep(Math.max(0, 5 - took));
  }
  const s = summarize(latencies);
  console.log(`one every 5 ms: p50 ${s.p50.toFixed(2)}, p99 ${s.p99.toFixed(2)}, max ${s.max.toFixed(1)} ms (${latencies.length})`);
} finally {
  await db.close();
}
