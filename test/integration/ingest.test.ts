import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runIngestCli } from '../../src/cli/ingest.ts';
import { lockDataDir } from '../../src/db/data-dir-lock.ts';
import { openPgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAICall } from '../fakes/fake-openai.ts';
import { makePdf } from '../support/make-pdf.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SLOW = 120_000;

const GUIDE = `# Egg Retrieval Guide

Egg retrieval is a short procedure under sedation.

## Before

Do not eat or drink after midnight. Bring a partner or friend to take you home.

## After

Rest for the remainder of the day. Mild cramping is normal.
`;

const TRANSFER_HTML = `<!doctype html><html><head><title>Embryo Transfer</title>
<script>window.analytics("tracking-secret")</script><style>body{margin:0}</style></head>
<body><header>Clinic site header</header><nav><a href="/">Main menu</a> <a href="/fees">Fees</a></nav>
<main><h2>On the day</h2><p>Come with a comfortably full bladder.</p><h2>Afterwards</h2><p>Light activity is fine.</p></main>
<footer>Copyright footer text</footer></body></html>`;

type Inspection = {
  documents: { source: string; title: string; content_hash: string; updated_at: string }[];
  chunks: { id: number; source: string; heading: string; content: string; content_hash: string; embedded: boolean }[];
};

/** The database as it is on disk, read between runs (never while a run has it open). */
async function inspect(dataDir: string): Promise<Inspection> {
  const db = openPgliteDatabase({ dataDir });
  try {
    return {
      documents: await db.query('select source, title, content_hash, updated_at::text from documents order by source'),
      chunks: await db.query(
        'select c.id, d.source, c.heading, c.content, c.content_hash, c.embedding is not null as embedded from chunks c join documents d on d.id = c.document_id order by c.id',
      ),
    };
  } finally {
    await db.close();
  }
}

describe('npm run ingest', () => {
  const work = mkdtempSync(join(tmpdir(), 'clinic-ingest-'));
  const dataDir = join(work, 'data', 'main');
  let openai: FakeOpenAI;
  const withKey = () => ({ OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: openai.baseURL });
  const embeddingCalls = () => openai.calls.filter((call) => call.path === '/v1/embeddings');
  const inputsOf = (calls: FakeOpenAICall[]) => calls.filter((call) => call.status === 200).flatMap((call) => call.body.input as string[]);
  const write = (path: string, content: string | Uint8Array) => {
    mkdirSync(join(work, path, '..'), { recursive: true });
    writeFileSync(join(work, path), content);
  };

  async function ingest(args: string[], env: Record<string, string> = {}, options: Partial<Parameters<typeof runIngestCli>[1]> = {}) {
    let stdout = '';
    let stderr = '';
    const result = await runIngestCli(args, {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: { DATA_DIR: dataDir, ...env },
      cwd: work,
      retry: { baseDelayMs: 5, maxDelayMs: 50 },
      ...options,
    });
    return { ...result, summary: result.summary!, stdout, stderr };
  }

  beforeAll(async () => {
    openai = await startFakeOpenAI();
    write('docs/guide.md', GUIDE);
    write('docs/notes.txt', 'The clinic is open from 8 to 6 on weekdays.\n\nParking is free for patients.\n');
    write('docs/transfer.html', TRANSFER_HTML);
    write('docs/consent.pdf', await makePdf([['Consent forms', 'Both partners sign the consent forms.'], ['Embryo storage is reviewed every year.']], { title: 'Consent Guide' }));
    write('docs/form.docx', 'PK binary');
    write('docs/broken.pdf', 'this is not really a PDF');
    write('docs/.hidden.md', '# Hidden\n\nnever read');
  });
  afterAll(async () => {
    await openai?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('when a folder holds every format, then each readable file is a document, the rest are listed with the reason, and every chunk is embedded', { timeout: SLOW }, async () => {
    const run = await ingest(['docs'], withKey());
    expect(run.exitCode).toBe(0);
    expect(run.summary).toMatchObject({ added: 4, changed: 0, unchanged: 0, removed: [], missingEmbeddings: 0, embeddingError: undefined });
    expect(run.summary.skipped).toEqual([
      { source: 'docs/broken.pdf', reason: expect.stringMatching(/^not a readable PDF/) },
      { source: 'docs/form.docx', reason: expect.stringMatching(/^unsupported file type \(\.docx\)/) },
    ]);
    expect(run.summary.tokensEmbedded).toBeGreaterThan(0);
    expect(run.stdout).toContain('docs/form.docx: unsupported file type');
    expect(run.stdout).toMatch(/Done: 4 added, 0 changed, 0 unchanged, 0 removed, 2 skipped; \d+ chunks written, \d+ chunks embedded \([\d,]+ tokens\)\./);

    const { documents, chunks } = await inspect(dataDir);
    expect(documents.map((d) => [d.source, d.title])).toEqual([
      ['docs/consent.pdf', 'Consent Guide'],
      ['docs/guide.md', 'Egg Retrieval Guide'],
      ['docs/notes.txt', 'Notes'],
      ['docs/transfer.html', 'Embryo Transfer'],
    ]);
    expect(chunks.every((chunk) => chunk.embedded)).toBe(true);
    expect(chunks.find((chunk) => chunk.heading === 'Page 2')?.content).toBe('Embryo storage is reviewed every year.');
    expect(chunks.find((chunk) => chunk.heading === 'Before')?.content).toMatch(/^Do not eat or drink after midnight/);
    const html = chunks.filter((chunk) => chunk.source === 'docs/transfer.html');
    expect(html.map((chunk) => [chunk.heading, chunk.content])).toEqual([
      ['On the day', 'Come with a comfortably full bladder.'],
      ['Afterwards', 'Light activity is fine.'],
    ]);
    const everything = JSON.stringify(chunks);
    for (const furniture of ['tracking-secret', 'Main menu', 'Clinic site header', 'Copyright footer', 'margin:0', 'never read']) expect(everything).not.toContain(furniture);

    const calls = embeddingCalls();
    expect(inputsOf(calls)).toHaveLength(chunks.length);
    expect(calls[0]!.body).toMatchObject({ model: 'text-embedding-3-small', dimensions: 1536 });
    expect(inputsOf(calls)).toContain('Egg Retrieval Guide\nBefore\n\nDo not eat or drink after midnight. Bring a partner or friend to take you home.');
  });

  it('when run again over unchanged files, then no embedding call is made and nothing is written', { timeout: SLOW }, async () => {
    const before = await inspect(dataDir);
    openai.reset();
    const run = await ingest(['docs'], withKey());
    expect(run.exitCode).toBe(0);
    expect(openai.calls).toHaveLength(0);
    expect(run.summary).toMatchObject({ added: 0, changed: 0, unchanged: 4, chunksWritten: 0, embeddedChunks: 0, tokensEmbedded: 0 });
    expect(await inspect(dataDir)).toEqual(before);
  });

  it('when one file changes, then only its chunks are replaced and only its new text is embedded', { timeout: SLOW }, async () => {
    const before = await inspect(dataDir);
    write('docs/guide.md', GUIDE.replace('Mild cramping is normal.', 'Mild cramping is normal. Call us if the pain gets worse.'));
    openai.reset();
    const run = await ingest(['docs'], withKey());
    expect(run.summary).toMatchObject({ added: 0, changed: 1, unchanged: 3 });

    const after = await inspect(dataDir);
    const others = (inspection: Inspection) => inspection.chunks.filter((chunk) => chunk.source !== 'docs/guide.md');
    expect(others(after)).toEqual(others(before));
    expect(after.documents.filter((d) => d.source !== 'docs/guide.md')).toEqual(before.documents.filter((d) => d.source !== 'docs/guide.md'));
    expect(after.chunks.every((chunk) => chunk.embedded)).toBe(true);
    // One section changed: one new text sent, the unchanged sections kept their embeddings.
    expect(inputsOf(embeddingCalls())).toEqual(['Egg Retrieval Guide\nAfter\n\nRest for the remainder of the day. Mild cramping is normal. Call us if the pain gets worse.']);
    expect(run.summary).toMatchObject({ embeddedChunks: 1 });
  });

  it('when --dry-run is given, then it shows what would change and writes nothing', { timeout: SLOW }, async () => {
    unlinkSync(join(work, 'docs/notes.txt'));
    write('docs/transfer.html', TRANSFER_HTML.replace('Light activity is fine.', 'Light activity is fine. Avoid hot baths.'));
    write('docs/new.md', '# Fees\n\nOne cycle of IVF is priced per stage.');
    const before = await inspect(dataDir);
    openai.reset();
    const run = await ingest(['--dry-run', '--prune', 'docs'], withKey());
    expect(run.exitCode).toBe(0);
    expect(run.summary).toMatchObject({ dryRun: true, added: 1, changed: 1, unchanged: 2, removed: ['docs/notes.txt'], wouldEmbed: 2 });
    expect(run.stdout).toContain('[5/6] would add    docs/new.md (1 chunk)\n');
    expect(run.stdout).toContain('[6/6] would change docs/transfer.html (2 chunks)\n');
    expect(run.stdout).toContain('\nwould remove docs/notes.txt\n');
    expect(run.stdout).toContain('Dry run, nothing written: would add 1, change 1, remove 1; 2 unchanged, 2 skipped.');
    expect(openai.calls).toHaveLength(0);
    expect(await inspect(dataDir)).toEqual(before);
  });

  it('when --prune is given, then documents whose files are gone are removed, only under the given folders', { timeout: SLOW }, async () => {
    write('other/kept.md', '# Kept\n\nStays.');
    write('other/stale.md', '# Stale\n\nIts file will be deleted.');
    expect((await ingest(['other'])).summary.added).toBe(2);
    unlinkSync(join(work, 'other/stale.md'));

    const withoutPrune = await ingest(['docs', 'other'], withKey());
    expect(withoutPrune.summary.removed).toEqual([]);

    const pruneDocs = await ingest(['--prune', 'docs'], withKey());
    expect(pruneDocs.summary.removed).toEqual(['docs/notes.txt']);
    expect(pruneDocs.stdout).toContain('removed      docs/notes.txt');
    let sources = (await inspect(dataDir)).documents.map((d) => d.source);
    expect(sources).not.toContain('docs/notes.txt');
    expect(sources).toContain('other/stale.md');

    const pruneOther = await ingest(['--prune', 'other'], withKey());
    expect(pruneOther.summary.removed).toEqual(['other/stale.md']);
    sources = (await inspect(dataDir)).documents.map((d) => d.source);
    expect(sources).toEqual(['docs/consent.pdf', 'docs/guide.md', 'docs/new.md', 'docs/transfer.html', 'other/kept.md']);
  });

  describe('on a second database', () => {
    const secondDir = join(work, 'data', 'second');

    it('when OPENAI_API_KEY is not set, then it loads for full-text search only and says so; a later run with a key adds the embeddings', { timeout: SLOW }, async () => {
      const offline = await ingest(['docs'], { DATA_DIR: secondDir });
      expect(offline.exitCode).toBe(0);
      expect(offline.summary).toMatchObject({ offline: true, added: 4, embeddedChunks: 0 });
      expect(offline.stdout).toContain('OPENAI_API_KEY is not set: loading for full-text search only');
      expect(offline.stdout).toMatch(/the documents are searchable by full text only\. \d+ chunks have no embedding yet/);
      const written = await inspect(secondDir);
      expect(written.chunks.some((chunk) => chunk.embedded)).toBe(false);

      openai.reset();
      const online = await ingest(['docs'], { DATA_DIR: secondDir, ...withKey() });
      expect(online.summary).toMatchObject({ offline: false, added: 0, changed: 0, unchanged: 4, chunksWritten: 0, embeddedChunks: written.chunks.length, missingEmbeddings: 0 });
      const after = await inspect(secondDir);
      expect(after.chunks.every((chunk) => chunk.embedded)).toBe(true);
      expect(after.chunks.map((chunk) => chunk.id)).toEqual(written.chunks.map((chunk) => chunk.id));
    });

    it('when OpenAI answers 429 for a while, then the run slows down and still completes', { timeout: SLOW }, async () => {
      write('limited/a.md', '# A\n\nFirst document.');
      write('limited/b.md', '# B\n\nSecond document.');
      openai.reset();
      let refused = 0;
      openai.failWith = (call) => (call.path === '/v1/embeddings' && refused++ < 5 ? 429 : undefined);
      openai.retryAfterSeconds = 0;
      const run = await ingest(['limited'], { DATA_DIR: secondDir, ...withKey() });
      expect(run.exitCode).toBe(0);
      expect(embeddingCalls().map((call) => call.status)).toEqual([429, 429, 429, 429, 429, 200]);
      expect(run.stdout).toContain('OpenAI rate limited (429): slowing down');
      expect(run.summary).toMatchObject({ embeddedChunks: 2, missingEmbeddings: 0, embeddingError: undefined });
    });

    it('when there are more chunks than one request may carry, then each request has at most 2,048 inputs and several are in flight', { timeout: SLOW }, async () => {
      const sections = Array.from({ length: 2100 }, (_, index) => `## Item ${index}\n\nNote number ${index}.`);
      write('many/items.md', `# Items\n\n${sections.join('\n\n')}\n`);
      openai.reset();
      openai.latency.embeddings = 300;
      const run = await ingest(['many'], { DATA_DIR: secondDir, ...withKey() });
      expect(run.summary).toMatchObject({ added: 1, embeddedChunks: 2100, missingEmbeddings: 0 });
      const sizes = embeddingCalls().map((call) => (call.body.input as string[]).length);
      expect(sizes).toEqual([2048, 52]);
      expect(openai.maxInFlight).toBe(2);
    });

    it('when a run is interrupted, then running it again finishes the work without redoing it', { timeout: SLOW }, async () => {
      for (const name of ['one', 'two', 'three']) write(`interrupted/${name}.md`, `# ${name}\n\n## First\n\nPart one of ${name}.\n\n## Second\n\nPart two of ${name}.`);
      openai.reset();
      const controller = new AbortController();
      openai.on('call', () => controller.abort());
      const first = await ingest(['interrupted'], { DATA_DIR: secondDir, ...withKey() }, { signal: controller.signal, embedding: { pageSize: 2 } });
      expect(first.exitCode).toBe(1);
      expect(first.summary).toMatchObject({ interrupted: true, added: 3, embeddedChunks: 2, missingEmbeddings: 4 });
      expect(first.stdout).toContain('Run the same command again to finish');
      const firstInputs = inputsOf(embeddingCalls());

      openai.reset();
      const second = await ingest(['interrupted'], { DATA_DIR: secondDir, ...withKey() });
      expect(second.exitCode).toBe(0);
      expect(second.summary).toMatchObject({ unchanged: 3, embeddedChunks: 4, missingEmbeddings: 0 });
      expect(inputsOf(embeddingCalls()).filter((input) => firstInputs.includes(input))).toEqual([]);
    });
  });

  describe('as a command', () => {
    function npmRunIngest(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
      return new Promise((resolve) => {
        const child = spawn('npm', ['run', '--silent', 'ingest', '--', ...args], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? work, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    }

    it('when run as npm run ingest, then it loads the files into the DATA_DIR and prints the summary', { timeout: SLOW }, async () => {
      const run = await npmRunIngest([join(work, 'other')], { DATA_DIR: join(work, 'data', 'command') });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/\[1\/1\] added {8}.*other\/kept\.md \(1 chunk\)/);
      expect(run.stdout).toContain('Done: 1 added');
    });

    it('when the server holds the DATA_DIR, then it refuses and says to stop the server first', { timeout: SLOW }, async () => {
      const lockedDir = join(work, 'data', 'locked');
      const unlock = lockDataDir(lockedDir);
      try {
        const run = await npmRunIngest(['docs'], { DATA_DIR: lockedDir });
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(`DATA_DIR ${lockedDir} is already in use by process ${process.pid}`);
        expect(run.stderr).toContain('stop the server first');
      } finally {
        unlock();
      }
    });
  });
});
