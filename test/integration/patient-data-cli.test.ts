import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runEraseCli } from '../../src/cli/erase.ts';
import { runExportCli } from '../../src/cli/export.ts';
import { runPurgeCli } from '../../src/cli/purge.ts';
import type { PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { openPgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { inboxDrained } from '../support/inbox-drained.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC = '+15557654321';

/** Runs a CLI function as `npm run …` would, collecting what it writes. */
async function run(cli: (argv: string[], io: any) => Promise<number>, argv: string[], env: Record<string, string>, extra: Record<string, unknown> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await cli(argv, { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) }, env, ...extra });
  return { code, stdout, stderr };
}

describe('npm run erase, export and purge on the embedded database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clinic-patient-data-'));
  const dataDir = join(dir, 'pglite');
  const env = { DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
  let service: TestService | undefined;

  beforeAll(async () => {
    // Two patients talk to the clinic (offline answers, replies kept locally), then the server stops.
    service = await startTestService({ DATA_DIR: dataDir, RETENTION_DAYS: '0' });
    for (const [from, body] of [['+15556500001', 'What is IVF? I am patient one'], ['whatsapp:+15556500001', 'When do I start injections?'], ['+15556500002', 'How much does a cycle cost?']]) {
      await postTwilioWebhook(service.url, { From: from!, To: from!.startsWith('whatsapp:') ? `whatsapp:${CLINIC}` : CLINIC, Body: body! });
    }
    await waitFor(async () => (await service!.inbox.stats()).answered === 3, { what: 'three answers' });
    await inboxDrained(service);
  });
  afterAll(async () => {
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the server holds DATA_DIR, then erase, export and purge refuse with the lock’s message', async () => {
    for (const [cli, argv] of [[runEraseCli, ['--yes', '+15556500001']], [runExportCli, ['+15556500001']], [runPurgeCli, ['--older-than-days', '0']]] as const) {
      const result = await run(cli, [...argv], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(dataDir);
      expect(result.stdout).toBe('');
    }
    await service!.stop();
    service = undefined;
  });

  it('when an address is not a phone number or a WhatsApp id, then nothing runs and the reason is given', async () => {
    const result = await run(runEraseCli, ['--yes', 'robert'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('not a patient address: "robert"');
  });

  it('when a patient asks for their data, then export writes their messages from every channel as JSON, and only theirs', async () => {
    const result = await run(runExportCli, ['15556500001'], env);
    expect(result.code).toBe(0);
    const exported = JSON.parse(result.stdout);
    expect(exported.patient).toBe('+15556500001');
    expect(exported.messages.filter((m: { direction: string }) => m.direction === 'in').map((m: { text: string }) => m.text)).toEqual(['What is IVF? I am patient one', 'When do I start injections?']);
    expect(exported.messages.filter((m: { direction: string }) => m.direction === 'out')).toHaveLength(2);
    expect(result.stdout).not.toContain('5556500002');
  });

  it('when erase runs with no terminal and no --yes, then nothing is erased', async () => {
    const result = await run(runEraseCli, ['+15556500001'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--yes');
    expect(JSON.parse((await run(runExportCli, ['+15556500001'], env)).stdout).messages).toHaveLength(4);
  });

  it('when erase is confirmed, then it prints counts, never content, and the patient is gone on every channel', async () => {
    const declined = await run(runEraseCli, ['+15556500001'], env, { confirm: async () => false });
    expect(declined.code).toBe(1);
    const result = await run(runEraseCli, ['+15556500001'], env, { confirm: async (question: string) => question.includes('+15556500001') });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('Erased 4 row(s) about +15556500001: inbox 2, outbound 2, delivery_status 0, patient_state 0, staff_alerts 0. Recorded in data_audit.\n');
    expect(JSON.parse((await run(runExportCli, ['+15556500001'], env)).stdout).messages).toEqual([]);
    expect(JSON.parse((await run(runExportCli, ['+15556500002'], env)).stdout).messages).toHaveLength(2);
  });

  it('when purge runs with --older-than-days 0, then every text is gone and the rows stay, counted', async () => {
    const result = await run(runPurgeCli, ['--older-than-days', '0'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Purged the text of everything older than .*: inbox 1, outbound 1, staff_alerts 0, delivery_status 0\. Recorded in data_audit\.\n$/);
    const db = openPgliteDatabase({ dataDir });
    try {
      expect(await db.query(`select body, patient from inbox`)).toEqual([{ body: '', patient: 'purged' }]);
      expect((await db.query<{ action: string }>(`select action from data_audit order by id`)).map((row) => row.action)).toEqual(['erase', 'purge']);
    } finally {
      await db.close();
    }
  });

  it('when the service starts with RETENTION_DAYS, then it purges what is older at once', async () => {
    const db = openPgliteDatabase({ dataDir });
    await db.query(`insert into inbox (channel, provider_message_id, conversation, patient, business, body, state, received_at)
                    values ('twilio', 'SM-old', 'twilio:${CLINIC}:+15556500003', '+15556500003', '${CLINIC}', 'an old question', 'answered', now() - interval '40 days')`);
    await db.close();
    service = await startTestService({ DATA_DIR: dataDir, RETENTION_DAYS: '30' });
    await waitFor(() => service!.logs.some((line) => line.msg === 'retention purge done'), { what: 'the purge at start' });
    // Its text, number and message id (a WhatsApp id encodes the number) are gone; the row is counted.
    const rows = await (service.db as PgliteDatabase).query<{ body: string; patient: string; provider_message_id: string }>(
      `select body, patient, provider_message_id from inbox where received_at < now() - interval '39 days'`,
    );
    expect(rows).toEqual([{ body: '', patient: 'purged', provider_message_id: expect.stringMatching(/^purged:\d+$/) }]);
  });
});
