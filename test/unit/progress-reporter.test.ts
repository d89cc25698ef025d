import { describe, expect, it } from 'vitest';

import { createProgressReporter } from '../../src/knowledge/progress-reporter.ts';

function output(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 100, write: (text: string) => writes.push(text) } };
}

describe('createProgressReporter', () => {
  it('when the output is not a terminal, then it prints plain lines: every file, and embeddings by tenths', () => {
    const { writes, stream } = output(false);
    const reporter = createProgressReporter(stream);
    reporter.filesStarted(2);
    reporter.file({ source: 'docs/a.md', outcome: 'added', chunks: 3 });
    reporter.file({ source: 'docs/b.docx', outcome: 'skipped', reason: 'unsupported file type (.docx)' });
    reporter.embeddingsStarted(3);
    reporter.embedded(1);
    reporter.embedded(2);
    reporter.finish();
    expect(writes.join('')).toBe(
      '[1/2] added        docs/a.md (3 chunks)\n[2/2] skipped      docs/b.docx: unsupported file type (.docx)\nembedding 3 chunks\nembeddings 1/3\nembeddings 3/3\n',
    );
    expect(writes.join('')).not.toMatch(/\r|\x1b/);
  });

  it('when the output is a terminal, then a status line is redrawn in place and unchanged files only counted', () => {
    const { writes, stream } = output(true);
    const reporter = createProgressReporter(stream);
    reporter.filesStarted(2);
    reporter.file({ source: 'docs/a.md', outcome: 'unchanged', chunks: 3 });
    reporter.file({ source: 'docs/b.md', outcome: 'changed', chunks: 2, dryRun: true });
    reporter.finish();
    const text = writes.join('');
    expect(text).not.toContain('docs/a.md');
    expect(text).toContain('would change docs/b.md (2 chunks)\n');
    expect(writes.at(-1)).toMatch(/^\r\x1b\[2K█{20} 100% {2}files 2\/2 {2}chunks 0\n$/);
  });
});
