import { createHash } from 'node:crypto';

import type { Embedder } from '../ai/models.ts';
import type { Knowledge } from '../store/knowledge.ts';
import { shippedLanguages } from '../language/load-languages.ts';
import { chunkDocument, type ChunkingOptions } from './chunk-document.ts';
import { documentLanguage } from './document-language.ts';
import { embedMissingChunks, type EmbedMissingOptions } from './embed-missing-chunks.ts';
import { findFiles, type FoundFiles } from './find-files.ts';
import type { ProgressReporter } from './progress-reporter.ts';
import { readDocument } from './read-document.ts';

export type IngestOptions = {
  /** Remove the documents under the given folders (or at given paths) whose files are gone. */
  prune?: boolean;
  /** Read and compare, write nothing and call no model: say what would change. */
  dryRun?: boolean;
  /** Sources are paths relative to this folder. */
  cwd?: string;
  chunking?: Partial<ChunkingOptions>;
  embedding?: Omit<EmbedMissingOptions, 'signal'>;
  /** Stops the run after the file or batches in flight (Ctrl-C); a later run picks up from there. */
  signal?: AbortSignal;
};

export type IngestSummary = {
  dryRun: boolean;
  /** No embedder: documents were loaded for full-text search only. */
  offline: boolean;
  added: number;
  changed: number;
  unchanged: number;
  removed: string[];
  skipped: { source: string; reason: string }[];
  chunksWritten: number;
  embeddedChunks: number;
  tokensEmbedded: number;
  /** Chunks left without an embedding after the run. */
  missingEmbeddings: number;
  /** Dry run: about how many chunks a real run would embed. */
  wouldEmbed: number;
  embeddingError: string | undefined;
  /** Stopped by the signal before the end. */
  interrupted: boolean;
};

/**
 * Loads files and folders into the knowledge tables; used by `npm run ingest` and by the first start
 * of an empty embedded database. Idempotent: a document is keyed by its path (see findFiles) and
 * rewritten only when its chunks changed; a chunk whose text was embedded before keeps that
 * embedding; then every chunk still without one (new text, an interrupted run, an earlier run without
 * a key) is embedded. A second run over unchanged files writes nothing and calls no model.
 */
export async function ingestPaths(
  paths: string[],
  deps: { knowledge: Knowledge; embedder: Embedder | undefined; reporter?: ProgressReporter | undefined },
  options: IngestOptions = {},
): Promise<IngestSummary> {
  const { knowledge, embedder, reporter } = deps;
  const dryRun = options.dryRun ?? false;
  const summary: IngestSummary = {
    dryRun,
    offline: !embedder,
    added: 0,
    changed: 0,
    unchanged: 0,
    removed: [],
    skipped: [],
    chunksWritten: 0,
    embeddedChunks: 0,
    tokensEmbedded: 0,
    missingEmbeddings: 0,
    wouldEmbed: 0,
    embeddingError: undefined,
    interrupted: false,
  };
  const skip = (source: string, reason: string) => {
    summary.skipped.push({ source, reason });
    reporter?.file({ source, outcome: 'skipped', reason, dryRun });
  };

  const found = await findFiles(paths, options.cwd ?? process.cwd());
  const stored = new Map((await knowledge.listDocuments()).map((document) => [document.source, document]));
  reporter?.filesStarted(found.files.length + found.problems.length);
  for (const problem of found.problems) skip(problem.source, problem.reason);

  const present = new Set<string>();
  const rewritten = new Set<string>();
  const newHashes = new Set<string>();
  for (const file of found.files) {
    if (options.signal?.aborted) break;
    // Present even when unreadable: a file that is there keeps its document, --prune or not.
    present.add(file.source);
    const read = await readDocument(file.path);
    if ('skipped' in read) {
      skip(file.source, read.skipped);
      continue;
    }
    const textSearch = shippedLanguages().byCode.get(documentLanguage(file.path, read.document))!.textSearch;
    const chunks = chunkDocument(read.document, options.chunking).map((chunk) => ({ ...chunk, textSearch }));
    // A document in another language than English has it in its hash: one stored before languages
    // were told apart (indexed as English) is rewritten, with its own configuration, by the next run.
    const hashed = [...chunks.map((chunk) => chunk.contentHash), ...(textSearch === 'english' ? [] : [`text_search:${textSearch}`])];
    const contentHash = createHash('sha256').update(hashed.join('\n')).digest('hex');
    const existing = stored.get(file.source);
    let outcome: 'added' | 'changed' | 'unchanged';
    if (existing?.contentHash === contentHash) {
      outcome = 'unchanged';
    } else if (dryRun) {
      outcome = existing ? 'changed' : 'added';
      for (const chunk of chunks) newHashes.add(chunk.contentHash);
    } else {
      const result = await knowledge.replaceDocument({ source: file.source, title: chunks[0]!.title, contentHash, chunks });
      outcome = result.outcome;
      summary.chunksWritten += result.chunks;
    }
    if (outcome !== 'unchanged') rewritten.add(file.source);
    summary[outcome]++;
    reporter?.file({ source: file.source, outcome, chunks: chunks.length, dryRun });
  }

  if (options.signal?.aborted) {
    // Files not reached are not known to be gone: no pruning, no embedding.
    summary.interrupted = true;
    reporter?.finish();
    return summary;
  }

  if (options.prune) {
    const gone = [...stored.keys()].filter((source) => !present.has(source) && found.scopes.some((scope) => inScope(source, scope)));
    summary.removed = dryRun || gone.length === 0 ? gone : (await knowledge.prune(gone)).removed;
    for (const source of summary.removed) reporter?.file({ source, outcome: 'removed', dryRun });
  }

  if (dryRun) {
    if (embedder) {
      const embedded = new Set(await knowledge.embeddedHashes([...newHashes]));
      const kept = [...stored.values()].filter((document) => !rewritten.has(document.source) && !summary.removed.includes(document.source));
      summary.wouldEmbed = [...newHashes].filter((hash) => !embedded.has(hash)).length + kept.reduce((sum, document) => sum + document.missingEmbeddings, 0);
    }
  } else if (embedder) {
    const outcome = await embedMissingChunks({ knowledge, embedder, reporter }, { ...options.embedding, ...(options.signal ? { signal: options.signal } : {}) });
    summary.interrupted = options.signal?.aborted ?? false;
    summary.embeddedChunks = outcome.chunks;
    summary.tokensEmbedded = outcome.tokens;
    summary.missingEmbeddings = outcome.missing;
    summary.embeddingError = outcome.error;
  } else {
    const stats = await knowledge.stats();
    summary.missingEmbeddings = stats.chunks - stats.embedded;
  }
  reporter?.finish();
  return summary;
}

/** Whether a stored source lies in the scope of --prune: under a given folder, or at a given path that is gone. */
function inScope(source: string, scope: FoundFiles['scopes'][number]): boolean {
  if (scope.source === '.') return !source.startsWith('../');
  return source === scope.source || source.startsWith(`${scope.source}/`);
}
