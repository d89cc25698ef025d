export type FileEvent = {
  source: string;
  outcome: 'added' | 'changed' | 'unchanged' | 'skipped' | 'removed';
  chunks?: number;
  reason?: string;
  /** Nothing was written: say what would have happened. */
  dryRun?: boolean;
};

export type ProgressReporter = {
  filesStarted(total: number): void;
  file(event: FileEvent): void;
  embeddingsStarted(total: number): void;
  embedded(count: number): void;
  note(message: string): void;
  finish(): void;
};

export type ProgressOutput = { write(text: string): unknown; isTTY?: boolean; columns?: number };

const WOULD: Record<FileEvent['outcome'], string> = {
  added: 'would add',
  changed: 'would change',
  unchanged: 'unchanged',
  skipped: 'skipped',
  removed: 'would remove',
};

/**
 * On a terminal, one status line redrawn in place (files, chunks, embeddings, and a bar for the
 * phase in progress) with notable events printed above it; elsewhere (a pipe, a CI log) plain lines,
 * one per file and one per tenth of the embeddings.
 */
export function createProgressReporter(output: ProgressOutput): ProgressReporter {
  const tty = Boolean(output.isTTY);
  const state = { files: 0, totalFiles: 0, chunks: 0, embedded: 0, totalEmbeddings: 0, embedding: false };
  let lastDraw = 0;
  let lastTenth = 0;

  const statusLine = () => {
    const parts = [`files ${state.files}/${state.totalFiles}`, `chunks ${state.chunks}`];
    if (state.embedding) parts.push(`embeddings ${state.embedded}/${state.totalEmbeddings}`);
    const [done, total] = state.embedding ? [state.embedded, state.totalEmbeddings] : [state.files, state.totalFiles];
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    const width = 20;
    const filled = Math.round(ratio * width);
    const line = `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${String(Math.round(ratio * 100)).padStart(3)}%  ${parts.join('  ')}`;
    return output.columns ? line.slice(0, output.columns - 1) : line;
  };
  const draw = (force = false) => {
    if (!tty) return;
    const now = Date.now();
    if (!force && now - lastDraw < 50) return;
    lastDraw = now;
    output.write(`\r\x1b[2K${statusLine()}`);
  };
  const print = (line: string) => {
    output.write(tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    draw(true);
  };

  return {
    filesStarted(total) {
      state.totalFiles = total;
      draw(true);
    },
    file(event) {
      if (event.outcome !== 'removed') state.files++;
      if (!event.dryRun && (event.outcome === 'added' || event.outcome === 'changed')) state.chunks += event.chunks ?? 0;
      const label = (event.dryRun ? WOULD[event.outcome] : event.outcome).padEnd(12);
      const chunks = event.chunks !== undefined && event.outcome !== 'unchanged' ? ` (${event.chunks} chunk${event.chunks === 1 ? '' : 's'})` : '';
      const line = `${label} ${event.source}${event.reason ? `: ${event.reason}` : chunks}`;
      // A terminal shows unchanged files in the count only; a log lists every file it reads.
      if (tty && event.outcome === 'unchanged') draw();
      else print(tty || event.outcome === 'removed' ? line : `[${state.files}/${state.totalFiles}] ${line}`);
    },
    embeddingsStarted(total) {
      state.embedding = true;
      state.totalEmbeddings = total;
      if (total > 0) print(`embedding ${total} chunks`);
    },
    embedded(count) {
      state.embedded += count;
      const tenth = state.totalEmbeddings > 0 ? Math.floor((state.embedded / state.totalEmbeddings) * 10) : 10;
      if (!tty && tenth > lastTenth) {
        lastTenth = tenth;
        output.write(`embeddings ${state.embedded}/${state.totalEmbeddings}\n`);
      }
      draw(state.embedded >= state.totalEmbeddings);
    },
    note(message) {
      print(message);
    },
    finish() {
      if (tty) output.write(`\r\x1b[2K${statusLine()}\n`);
    },
  };
}
