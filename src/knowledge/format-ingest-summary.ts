import type { IngestSummary } from './ingest-paths.ts';

/** The summary printed at the end of `npm run ingest`. */
export function formatIngestSummary(summary: IngestSummary): string {
  const lines: string[] = [];
  const plural = (count: number, word: string) => `${count.toLocaleString('en-US')} ${word}${count === 1 ? '' : 's'}`;
  if (summary.skipped.length > 0) {
    lines.push(`Skipped ${plural(summary.skipped.length, 'file')}:`);
    for (const { source, reason } of summary.skipped) lines.push(`  ${source}: ${reason}`);
  }
  if (summary.dryRun) {
    lines.push(
      `Dry run, nothing written: would add ${summary.added}, change ${summary.changed}, remove ${summary.removed.length}; ` +
        `${summary.unchanged} unchanged, ${summary.skipped.length} skipped.`,
    );
    if (!summary.offline) lines.push(`Would embed about ${plural(summary.wouldEmbed, 'chunk')}.`);
  } else {
    lines.push(
      `${summary.interrupted ? 'Interrupted' : 'Done'}: ${summary.added} added, ${summary.changed} changed, ${summary.unchanged} unchanged, ` +
        `${summary.removed.length} removed, ${summary.skipped.length} skipped; ${plural(summary.chunksWritten, 'chunk')} written, ` +
        `${plural(summary.embeddedChunks, 'chunk')} embedded (${plural(summary.tokensEmbedded, 'token')}).`,
    );
  }
  if (summary.offline && summary.missingEmbeddings > 0) {
    lines.push(
      `OPENAI_API_KEY is not set: the documents are searchable by full text only. ${plural(summary.missingEmbeddings, 'chunk')} ` +
        'have no embedding yet; run again with OPENAI_API_KEY set to add them.',
    );
  } else if (!summary.dryRun && summary.missingEmbeddings > 0) {
    const why = summary.embeddingError ? ` (${summary.embeddingError})` : '';
    lines.push(`${plural(summary.missingEmbeddings, 'chunk')} still have no embedding${why}. Run again to finish.`);
  }
  if (summary.interrupted) lines.push('Run the same command again to finish: finished work is kept.');
  return `${lines.join('\n')}\n`;
}
