import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { evaluateRetrieval, formatRetrievalReport, meetsRetrievalBar, readRetrievalSet, RETRIEVAL_BAR, type RetrievalQuestion } from '../../eval/evaluate-retrieval.ts';
import { measureRetrieval, serviceSearch } from '../../eval/measure-retrieval.ts';
import { openSampleKnowledge } from '../../eval/open-sample-knowledge.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { openaiEnv } from '../support/fake-env.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SLOW = 120_000;
const set = readRetrievalSet(join(ROOT, 'eval/retrieval.jsonl'));

/** Each question labelled with the next document in the folder's order: plausible labels, all wrong. */
function shiftedLabels(rows: RetrievalQuestion[]): RetrievalQuestion[] {
  const sources = [...new Set(rows.map((row) => row.source))].sort();
  return rows.map((row) => ({ ...row, source: sources[(sources.indexOf(row.source) + 1) % sources.length]! }));
}

function runEval(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'eval/run-retrieval.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? ROOT, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('retrieval on the sample documents (eval/retrieval.jsonl, npm run eval:retrieval)', () => {
  it('when the set is read, then it has at least 60 questions, a third or so in Spanish, each labelled with a document of knowledge/', () => {
    expect(set.length).toBeGreaterThanOrEqual(60);
    expect(set.filter((row) => row.lang === 'es').length).toBeGreaterThanOrEqual(20);
    const files = new Set(readdirSync(join(ROOT, 'knowledge')).map((name) => `knowledge/${name}`));
    for (const row of set) expect(files, row.question).toContain(row.source);
  });

  it('when the service searches it offline (full-text), then hit@3 and MRR are at the bar or above', { timeout: SLOW }, async () => {
    const result = await measureRetrieval(set, 'knowledge', { cwd: ROOT });
    const report = formatRetrievalReport(result);
    expect(RETRIEVAL_BAR.hitAt3).toBeGreaterThanOrEqual(0.5);
    expect(result.overall.hitAt3, report).toBeGreaterThanOrEqual(RETRIEVAL_BAR.hitAt3);
    expect(result.overall.mrr, report).toBeGreaterThanOrEqual(RETRIEVAL_BAR.mrr);
    expect(result.table.map((row) => row.lang)).toEqual(['en', 'es', 'all']);
  });

  describe('the bar can fail', () => {
    let sample: Awaited<ReturnType<typeof openSampleKnowledge>>;
    beforeAll(async () => {
      sample = await openSampleKnowledge('knowledge', { cwd: ROOT });
    }, SLOW);
    afterAll(() => sample?.close());

    it('when every question is labelled with the wrong document, then the figures fall under the bar and the misses are listed', async () => {
      const result = await evaluateRetrieval(shiftedLabels(set), serviceSearch(sample.knowledge));
      expect(meetsRetrievalBar(result.overall)).toBe(false);
      expect(formatRetrievalReport(result)).toMatch(/Misses \(\d+\):\n- \[en[^\n]*expected knowledge\/[^\n]*, first /);
    });

    it('when search returns its passages in reverse order, then the figures fall under the bar', async () => {
      const search = serviceSearch(sample.knowledge);
      const result = await evaluateRetrieval(set, async (question) => (await search(question)).reverse());
      expect(meetsRetrievalBar(result.overall), formatRetrievalReport(result)).toBe(false);
    });
  });

  describe('npm run eval:retrieval', () => {
    let openai: FakeOpenAI;
    let work: string;
    beforeAll(async () => {
      openai = await startFakeOpenAI();
      work = mkdtempSync(join(tmpdir(), 'retrieval-eval-'));
    });
    afterAll(async () => {
      await openai?.close();
      rmSync(work, { recursive: true, force: true });
    });

    it('when OPENAI_API_KEY is set, then it embeds the documents and the questions through the endpoint and reports hybrid figures as well', { timeout: SLOW }, async () => {
      const run = await runEval([], openaiEnv(openai));
      expect(run.stderr).toBe('');
      expect([0, 1]).toContain(run.code);
      expect(run.stdout).toContain('## Full-text search (offline)');
      expect(run.stdout).toMatch(/## Hybrid search \(text-embedding-3-small\)\n\n\| language \|[^]*\| all +\| 80 +\| [\d.]+ % +\| [\d.]+ % +\| [01]\.\d{3} \|/);
      const embedded = openai.calls.filter((call) => call.path === '/v1/embeddings').flatMap((call) => [call.body.input].flat() as string[]);
      expect(embedded).toContain('can i eat before my egg retreival');
      expect(embedded.some((input) => input.includes('Egg Retrieval'))).toBe(true);
    });

    it('when a set is under the bar, then it prints the misses and exits 1', { timeout: SLOW }, async () => {
      const path = join(work, 'shifted.jsonl');
      writeFileSync(path, shiftedLabels(set).map((row) => JSON.stringify(row)).join('\n'));
      const run = await runEval([path, 'knowledge'], {});
      expect(run.stdout).toContain('OPENAI_API_KEY is not set: full-text search only.');
      expect(run.stdout).toMatch(/Misses \(\d+\):/);
      expect(run.code).toBe(1);
    });

    it('when a label names a document that is not in the folder, then it says which and exits 2', { timeout: SLOW }, async () => {
      const path = join(work, 'unknown.jsonl');
      writeFileSync(path, JSON.stringify({ question: 'what is ivf', source: 'knowledge/gone.md', lang: 'en' }));
      const run = await runEval([path], {});
      expect(run.stderr).toMatch(/not in knowledge: knowledge\/gone\.md/);
      expect(run.code).toBe(2);
    });
  });
});
