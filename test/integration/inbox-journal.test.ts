import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { afterAll, describe, expect, it } from 'vitest';

import { AppError } from '../../src/app-error.ts';
import type { InboundMessage } from '../../src/channels/channel.ts';
import { sqlError } from '../../src/db/database-error.ts';
import type { Arrival } from '../../src/intake/intake.ts';
import { journalPathsFor, openJournalFile } from '../../src/intake/journal-file.ts';
import { createJournalIntake } from '../../src/intake/journal-intake.ts';
import { encodeRecords } from '../../src/intake/journal-records.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { waitFor } from '../fakes/wait-for.ts';

type Line = Record<string, unknown> & { level: number; msg: string };
type Enqueued = { id: number; duplicate: boolean; state: string };

/** A hand-written inbox: records each enqueue, answers through `answer` (which may hold or fail it). */
function fakeInbox() {
  const calls: InboundMessage[] = [];
  /** The ids handed over in one synchronous step: what the inbox's group commit stores in one call. */
  const rounds: string[][] = [];
  let round: string[] | undefined;
  const stored = new Set<string>();
  const inbox = {
    calls,
    rounds,
    /** Called before each store; throw to fail it, await to hold it. */
    answer: async (_message: InboundMessage): Promise<void> => {},
    async enqueue(message: InboundMessage): Promise<Enqueued> {
      calls.push(message);
      if (!round) {
        rounds.push((round = []));
        queueMicrotask(() => (round = undefined));
      }
      round.push(message.providerMessageId);
      await inbox.answer(message);
      const duplicate = stored.has(message.providerMessageId);
      stored.add(message.providerMessageId);
      return { id: calls.length, duplicate, state: 'pending' };
    },
  };
  return inbox;
}

function logSink() {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', pretty: false, destination: stream }) };
}

const message = (n: number, body = `question ${n}`, patient = '+15551230001'): Arrival => ({
  message: { channel: 'twilio', providerMessageId: `SM${n}`, patient, business: '+15557654321', body, kind: 'text' },
  rateLimit: 20,
});
const ids = (messages: InboundMessage[]) => messages.map((m) => m.providerMessageId);

describe('the inbox journal (real files, a fake inbox)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clinic-journal-'));
  let n = 0;
  const setUp = (options: { retryDelayMs?: { first: number; max: number }; gatherMs?: number } = {}) => {
    const paths = journalPathsFor(join(dir, `data-${++n}`));
    const inbox = fakeInbox();
    const { lines, logger } = logSink();
    const metrics = createMetrics();
    const wakes: { urgent: boolean }[] = [];
    const open = () => createJournalIntake({ file: openJournalFile(paths), inbox, logger, metrics, onStored: (stored) => wakes.push(stored), ...options });
    return { paths, inbox, lines, metrics, wakes, open };
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('when messages are accepted while the database is held, then accept returns at once, they are stored in journal order behind it, and the journal is emptied', async () => {
    const { paths, inbox, lines, wakes, open } = setUp();
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    inbox.answer = () => held;
    const intake = open();
    for (let i = 1; i <= 5; i++) intake.accept([message(i)]);
    intake.accept([message(6), message(7, 'Heavy bleeding and fainting', '+15551230002')].map((a, i) => (i === 1 ? { ...a, message: { ...a.message, kind: 'emergency' as const } } : a)));
    // Every message is in the file before anything is stored.
    expect(intake.waiting).toBe(7);
    expect(statSync(paths.journal).size).toBeGreaterThan(7 * 100);
    expect(lines.filter((line) => line.msg === 'inbound message stored')).toHaveLength(0);
    release();
    await waitFor(() => intake.waiting === 0, { what: 'the journal drained' });
    expect(ids(inbox.calls)).toEqual(['SM1', 'SM2', 'SM3', 'SM4', 'SM5', 'SM6', 'SM7']);
    expect(lines.filter((line) => line.msg === 'inbound message stored').map((line) => line.providerMessageId)).toEqual(ids(inbox.calls));
    // Logged as the route logged it: a masked number, never the text at info.
    expect(lines.find((line) => line.providerMessageId === 'SM7')).toMatchObject({ from: '…0002', inboxId: 7, kind: 'emergency' });
    expect(JSON.stringify(lines)).not.toContain('fainting');
    expect(wakes.some((wake) => wake.urgent)).toBe(true);
    expect(statSync(paths.journal).size).toBe(0);
    await intake.stop(1_000);
  });

  it('when webhooks come one at a time, then the drainer lets them gather and hands them to the inbox together, not one call each', async () => {
    const { inbox, open } = setUp();
    const intake = open();
    for (let i = 1; i <= 5; i++) {
      intake.accept([message(i)]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => intake.waiting === 0, { what: 'the journal drained' });
    expect(ids(inbox.calls)).toEqual(['SM1', 'SM2', 'SM3', 'SM4', 'SM5']);
    // One round, or two if this machine stalled for the whole gathering time between two webhooks.
    expect(inbox.rounds.length).toBeLessThanOrEqual(2);
    await intake.stop(1_000);
  });

  it('when an emergency arrives while messages gather, then it is stored at once, with those before it', async () => {
    const { inbox, wakes, open } = setUp({ gatherMs: 60_000 });
    const intake = open();
    intake.accept([message(1), message(2)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(inbox.calls).toHaveLength(0);
    intake.accept([{ ...message(3, 'I am bleeding heavily'), message: { ...message(3, 'I am bleeding heavily').message, kind: 'emergency' } }]);
    await waitFor(() => intake.waiting === 0, { what: 'the emergency stored without waiting the minute out' });
    expect(inbox.rounds).toEqual([['SM1', 'SM2', 'SM3']]);
    expect(wakes).toEqual([{ urgent: true }]);
    await intake.stop(1_000);
  });

  it('when the message first in line is stored on its own anyway (a voice note), then it is not held back to gather', async () => {
    const { inbox, open } = setUp({ gatherMs: 60_000 });
    const intake = open();
    const voice = message(1, '');
    intake.accept([{ ...voice, message: { ...voice.message, kind: 'voice', media: { url: 'https://api.twilio.com/media/ME1', contentType: 'audio/ogg' } } }]);
    await waitFor(() => intake.waiting === 0, { what: 'the voice note stored without waiting the minute out' });
    expect(ids(inbox.calls)).toEqual(['SM1']);
    await intake.stop(1_000);
  });

  it('when a full batch has gathered, then it is stored at once; and what gathers when stopping is stored without waiting', async () => {
    const { inbox, open } = setUp({ gatherMs: 60_000 });
    const intake = open();
    intake.accept(Array.from({ length: 64 }, (_, i) => message(100 + i)));
    await waitFor(() => intake.waiting === 0, { what: 'the full batch stored' });
    expect(inbox.rounds).toHaveLength(1);
    intake.accept([message(200)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(inbox.calls).toHaveLength(64);
    expect(await intake.stop(10_000)).toEqual({ left: 0 });
    expect(ids(inbox.calls).at(-1)).toBe('SM200');
  });

  it('when the database refuses a record for its content, then it goes to the rejected file, is counted and logged without its text, and the ones after it are stored', async () => {
    const { paths, inbox, lines, metrics, open } = setUp();
    inbox.answer = async (m) => {
      if (m.body.includes('poison')) throw sqlError({ code: '22P02', message: 'invalid input syntax' });
    };
    const intake = open();
    intake.accept([message(1), message(2, 'a poison pill of a message'), message(3)]);
    await waitFor(() => intake.waiting === 0, { what: 'the journal drained' });
    expect(lines.filter((line) => line.msg === 'inbound message stored').map((line) => line.providerMessageId)).toEqual(['SM1', 'SM3']);
    const refused = lines.find((line) => line.msg.startsWith('inbound message refused'));
    expect(refused).toMatchObject({ level: 50, providerMessageId: 'SM2', from: '…0001', code: 'db_error', sqlState: '22P02', keptIn: paths.rejected });
    expect(JSON.stringify(lines)).not.toContain('poison');
    const rejected = readFileSync(paths.rejected, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { message: InboundMessage; error: { sqlState: string } });
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ message: { providerMessageId: 'SM2', body: 'a poison pill of a message' }, error: { sqlState: '22P02' } });
    expect((await metrics.journalRejected.get()).values[0]?.value).toBe(1);
    expect(statSync(paths.journal).size).toBe(0);
    await intake.stop(1_000);
  });

  it('when the database is unavailable, then the records stay in the journal and are tried again with backoff, in order', async () => {
    const { paths, inbox, lines, open } = setUp({ retryDelayMs: { first: 20, max: 80 } });
    // Down for the first three tries (each try starts with the oldest message).
    let tries = 0;
    inbox.answer = async (m) => {
      if (m.providerMessageId === 'SM1') tries++;
      if (tries <= 3) throw new AppError('embedded database failed', { code: 'db_unavailable' });
    };
    const intake = open();
    intake.accept([message(1)]);
    intake.accept([message(2), message(3)]);
    await waitFor(() => intake.waiting === 0, { what: 'the journal drained' });
    expect(lines.filter((line) => line.msg.startsWith('could not store journaled messages')).map((line) => line.retryInMs)).toEqual([20, 40, 80]);
    expect(lines.filter((line) => line.msg === 'inbound message stored').map((line) => line.providerMessageId)).toEqual(['SM1', 'SM2', 'SM3']);
    expect(lines.filter((line) => line.msg.startsWith('inbound message refused'))).toHaveLength(0);
    expect(statSync(paths.journal).size).toBe(0);
    await intake.stop(1_000);
  });

  it('when stopped while the database is unavailable, then it waits no longer than told and the next start stores what was left, once each', async () => {
    const { paths, inbox, lines, open } = setUp({ retryDelayMs: { first: 20, max: 20 } });
    inbox.answer = async () => {
      throw new AppError('embedded database is closed', { code: 'db_closed' });
    };
    const first = open();
    first.accept([message(1), message(2)]);
    await expect(first.stop(100)).resolves.toEqual({ left: 2 });
    inbox.answer = async () => {};
    const second = open();
    await second.replayed;
    expect(lines.filter((line) => line.msg === 'inbound message stored').map((line) => line.providerMessageId)).toEqual(['SM1', 'SM2']);
    expect(statSync(paths.journal).size).toBe(0);
    await second.stop(1_000);
  });

  it('when an earlier process left records and a torn last one, then they are stored before replayed resolves, the torn one is skipped with a warning, and new appends follow the good ones', async () => {
    const { paths, inbox, lines, open } = setUp();
    const whole = encodeRecords([1, 2, 3].map((i) => ({ v: 1, ...message(i) })));
    const torn = encodeRecords([{ v: 1, ...message(4) }]);
    writeFileSync(paths.journal, Buffer.concat([whole, torn.subarray(0, torn.length - 5)]));
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    inbox.answer = () => held;
    const intake = open();
    expect(lines.find((line) => line.msg.startsWith('the inbox journal ends with a torn record'))).toMatchObject({ level: 40, tornBytes: torn.length - 5 });
    // Appended behind the three left over, after the torn bytes were cut off.
    intake.accept([message(5)]);
    expect(statSync(paths.journal).size).toBe(whole.length + encodeRecords([{ v: 1, ...message(5) }]).length);
    let replayed = false;
    void intake.replayed.then(() => (replayed = true));
    await waitFor(() => inbox.calls.length >= 1, { what: 'the replay started' });
    expect(replayed).toBe(false);
    release();
    await intake.replayed;
    expect(ids(inbox.calls).slice(0, 3)).toEqual(['SM1', 'SM2', 'SM3']);
    await waitFor(() => intake.waiting === 0, { what: 'the journal drained' });
    expect(ids(inbox.calls)).toEqual(['SM1', 'SM2', 'SM3', 'SM5']);
    await intake.stop(1_000);
  });

  it('when a redelivered message is journaled twice, then both are acknowledged and the inbox is asked twice, the second found a duplicate', async () => {
    const { inbox, lines, open } = setUp();
    const intake = open();
    intake.accept([message(1)]);
    intake.accept([message(1)]);
    await waitFor(() => intake.waiting === 0, { what: 'the journal drained' });
    expect(lines.filter((line) => line.providerMessageId === 'SM1').map((line) => line.msg)).toEqual(['inbound message stored', 'inbound message redelivered, already stored']);
    expect(inbox.calls).toHaveLength(2);
    await intake.stop(1_000);
  });

  it('when the journal cannot be written (a full disk: /dev/full), then accept throws a 503 with the reason and nothing is queued', async () => {
    const { paths, inbox, open } = setUp();
    symlinkSync('/dev/full', paths.journal);
    const intake = open();
    let thrown: unknown;
    try {
      intake.accept([message(1)]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({ status: 503, code: 'journal_unwritable', message: expect.stringContaining('ENOSPC') });
    expect(intake.waiting).toBe(0);
    expect(inbox.calls).toHaveLength(0);
    await intake.stop(1_000);
  });

  it('when a record of an unknown shape is left in the journal, then it is moved to the rejected file, not dropped', async () => {
    const { paths, lines, open } = setUp();
    writeFileSync(paths.journal, encodeRecords([{ v: 1, ...message(1) }, { v: 99, something: 'else' }, { v: 1, ...message(2) }]));
    appendFileSync(paths.rejected, '');
    const intake = open();
    await intake.replayed;
    expect(lines.filter((line) => line.msg === 'inbound message stored').map((line) => line.providerMessageId)).toEqual(['SM1', 'SM2']);
    expect(readFileSync(paths.rejected, 'utf8')).toContain('"something":"else"');
    await intake.stop(1_000);
  });
});
