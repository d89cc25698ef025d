import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { findFiles } from '../../src/knowledge/find-files.ts';
import { ingestPaths } from '../../src/knowledge/ingest-paths.ts';
import type { Knowledge } from '../../src/store/knowledge.ts';

describe('findFiles and symbolic links', () => {
  let work: string;
  const write = (path: string, content = '# Title\n\nText.\n') => {
    mkdirSync(join(work, path, '..'), { recursive: true });
    writeFileSync(join(work, path), content);
  };
  const link = (path: string, target: string) => {
    mkdirSync(join(work, path, '..'), { recursive: true });
    symlinkSync(target, join(work, path));
  };
  const sources = (found: Awaited<ReturnType<typeof findFiles>>) => found.files.map((file) => file.source);

  beforeEach(() => {
    // realpath: on some systems the temp folder itself is behind a link (macOS /var -> /private/var).
    work = realpathSync(mkdtempSync(join(tmpdir(), 'clinic-find-files-')));
    write('knowledge/guide.md');
    write('knowledge/sub/faq.md');
    write('outside/secret.md', '# Secret\n\nDATABASE_URL=postgres://...\n');
    write('.env', 'OPENAI_API_KEY=sk-secret\n');
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('when a file link points out of the folder given, then it is not read and is listed with the reason', async () => {
    link('knowledge/env.md', '../.env');
    link('knowledge/sub/secret.md', join(work, 'outside/secret.md'));
    const found = await findFiles(['knowledge'], work);
    expect(sources(found)).toEqual(['knowledge/guide.md', 'knowledge/sub/faq.md']);
    expect(found.problems).toEqual([
      { source: 'knowledge/env.md', reason: 'symbolic link out of the folder given: not followed' },
      { source: 'knowledge/sub/secret.md', reason: 'symbolic link out of the folder given: not followed' },
    ]);
  });

  it('when a folder link points out of the folder given, then nothing under it is read and it is listed with the reason', async () => {
    link('knowledge/more', '../outside');
    // A prefix of the folder's own name is still outside: knowledge-old is not under knowledge.
    write('knowledge-old/old.md');
    link('knowledge/old', join(work, 'knowledge-old'));
    const found = await findFiles(['knowledge'], work);
    expect(sources(found)).toEqual(['knowledge/guide.md', 'knowledge/sub/faq.md']);
    expect(found.problems.map((problem) => problem.source)).toEqual(['knowledge/more', 'knowledge/old']);
    expect(found.files.every((file) => !file.path.includes('outside') && !file.path.includes('knowledge-old'))).toBe(true);
  });

  it('when links stay inside the folder, then they are followed and each file is read once, under its own path', async () => {
    write('knowledge/.drafts/draft.md');
    link('knowledge/current', '.drafts');
    link('knowledge/a-alias', 'sub');
    link('knowledge/zz-guide.md', 'guide.md');
    const found = await findFiles(['knowledge'], work);
    expect(sources(found)).toEqual(['knowledge/current/draft.md', 'knowledge/guide.md', 'knowledge/sub/faq.md']);
    expect(found.files.find((file) => file.source === 'knowledge/current/draft.md')!.path).toBe(join(work, 'knowledge/.drafts/draft.md'));
    expect(found.problems).toEqual([]);
  });

  it('when links make a loop, then the walk ends and a link to itself is listed as a loop', async () => {
    link('knowledge/sub/up', '..');
    link('knowledge/sub/root', join(work, 'knowledge'));
    link('knowledge/self', 'self');
    link('knowledge/ping', 'pong');
    link('knowledge/pong', 'ping');
    link('knowledge/gone.md', 'missing.md');
    const found = await findFiles(['knowledge'], work);
    expect(sources(found)).toEqual(['knowledge/guide.md', 'knowledge/sub/faq.md']);
    expect(found.problems).toEqual([
      { source: 'knowledge/gone.md', reason: 'broken symbolic link' },
      { source: 'knowledge/ping', reason: 'symbolic link loop' },
      { source: 'knowledge/pong', reason: 'symbolic link loop' },
      { source: 'knowledge/self', reason: 'symbolic link loop' },
    ]);
  });

  it('when the path given is itself a link, then it is followed: the operator chose it', async () => {
    link('docs', 'outside');
    const found = await findFiles(['docs'], work);
    expect(sources(found)).toEqual(['docs/secret.md']);
    expect(found.problems).toEqual([]);
  });

  it('when ingesting, then a link out of the folder is in the summary as skipped with the reason, and its text is never stored', async () => {
    link('knowledge/secret.md', '../outside/secret.md');
    const stored: string[] = [];
    const knowledge = {
      listDocuments: async () => [],
      replaceDocument: async (document: { source: string; chunks: { content: string }[] }) => {
        stored.push(document.source, ...document.chunks.map((chunk) => chunk.content));
        return { documentId: 1, outcome: 'added', chunks: document.chunks.length, reusedEmbeddings: 0 };
      },
      stats: async () => ({ documents: 0, chunks: 0, embedded: 0 }),
    } as unknown as Knowledge;
    const summary = await ingestPaths(['knowledge'], { knowledge, embedder: undefined }, { cwd: work });
    expect(summary.added).toBe(2);
    expect(summary.skipped).toEqual([{ source: 'knowledge/secret.md', reason: 'symbolic link out of the folder given: not followed' }]);
    expect(stored.join('\n')).not.toContain('DATABASE_URL');
  });
});
