import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { pino } from 'pino';

import { createIngestionEmbedder } from '../ai/create-ingestion-embedder.ts';
import { createOpenAILimiter } from '../ai/openai-limiter.ts';
import { createInstances } from '../store/instances.ts';
import { createInstanceHeartbeat } from '../worker/instance-heartbeat.ts';
import type { RetryOptions } from '../ai/with-retry.ts';
import { AppError } from '../app-error.ts';
import { loadConfig, readDotEnv, type Config } from '../config.ts';
import { openDatabase, type OpenedDatabase } from '../db/open-database.ts';
import type { EmbedMissingOptions } from '../knowledge/embed-missing-chunks.ts';
import { formatIngestSummary } from '../knowledge/format-ingest-summary.ts';
import { ingestPaths, type IngestSummary } from '../knowledge/ingest-paths.ts';
import { createProgressReporter, type ProgressOutput } from '../knowledge/progress-reporter.ts';
import { SUPPORTED_EXTENSIONS } from '../knowledge/read-document.ts';
import { createKnowledge } from '../store/knowledge.ts';

const USAGE = `Usage: npm run ingest -- [--prune] [--dry-run] [files or folders...]

Loads the clinic's documents (${SUPPORTED_EXTENSIONS.join(', ')}) into the knowledge base, on the
embedded database (DATA_DIR), PostgreSQL (DATABASE_URL) or Supabase (SUPABASE_URL), and embeds them
when OPENAI_API_KEY is set.
Folders are read recursively. With no path, KNOWLEDGE_DIR (default: knowledge) is read. Documents are
keyed by their path relative to the current folder: run it from the project root.

Unchanged files are left alone (no writes, no OpenAI calls); a changed file replaces its own chunks;
an interrupted run can simply be run again.

  --prune     also remove documents under the given folders whose files are gone
  --dry-run   show what would change; write nothing, call no model
  -h, --help  this text`;

export type IngestCliIo = {
  stdout: ProgressOutput;
  stderr: { write(text: string): unknown };
  /** The environment to read the config from (default: process.env, through loadConfig). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  signal?: AbortSignal;
  /** Test seams: a faster retry policy, smaller pages. */
  retry?: Partial<RetryOptions>;
  embedding?: Omit<EmbedMissingOptions, 'signal'>;
};

/**
 * `npm run ingest`: parses the arguments, opens the configured database, runs ingestPaths with a
 * progress display and prints the summary. Exit code 0 when done (skipped files included), 1 when
 * the run could not start or finish (bad config, database in use, embeddings left undone, Ctrl-C),
 * 2 for a usage error.
 */
export async function runIngestCli(argv: string[], io: IngestCliIo): Promise<{ exitCode: number; summary?: IngestSummary }> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`);
    return { exitCode: 2 };
  }
  if (args.values.help) {
    io.stdout.write(`${USAGE}\n`);
    return { exitCode: 0 };
  }

  let config: Config;
  try {
    config = loadConfig(io.env);
  } catch (error) {
    io.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    return { exitCode: 1 };
  }
  const paths = args.positionals.length > 0 ? args.positionals : [config.knowledgeDir];
  const reporter = createProgressReporter(io.stdout);
  if (args.positionals.length === 0) reporter.note(`No path given: reading KNOWLEDGE_DIR (${config.knowledgeDir}).`);

  // Warnings only: the progress display owns the terminal.
  const logger = pino({ level: 'warn', base: undefined }, { write: (line: string) => io.stderr.write(line) });
  let opened: OpenedDatabase;
  try {
    opened = await openDatabase(config, { logger });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint =
      error instanceof AppError && error.code === 'data_dir_locked'
        ? '\nIs the server running? It holds the embedded database: stop the server first, then run npm run ingest again.'
        : '';
    io.stderr.write(`Cannot open the database: ${message}${hint}\n`);
    return { exitCode: 1 };
  }

  const apiKey = config.openai.apiKey;
  if (!apiKey) reporter.note('OPENAI_API_KEY is not set: loading for full-text search only; a later run with a key adds the embeddings.');
  // On a database the service instances share, this run takes its share of OPENAI_MAX_CONCURRENCY like
  // one more instance (heartbeating meanwhile), so that the deployment's cap holds while it embeds.
  const shared = opened.kind !== 'embedded' && apiKey !== undefined;
  const limiter = createOpenAILimiter(shared ? 0 : config.openai.maxConcurrency);
  const heartbeat = shared
    ? createInstanceHeartbeat({
        instances: createInstances(opened.db),
        id: `ingest-${randomUUID()}`,
        kind: 'ingest',
        openaiTotal: config.openai.maxConcurrency,
        limiter,
        logger,
      })
    : undefined;
  try {
    await heartbeat?.start();
  } catch (error) {
    io.stderr.write(`Cannot join the instances sharing the database: ${error instanceof Error ? error.message : String(error)}\n`);
    await opened.close();
    return { exitCode: 1 };
  }
  const embedder = apiKey
    ? createIngestionEmbedder({
        ...config.openai,
        apiKey,
        limiter,
        retry: {
          onRetry: (error, attempt, delayMs) => {
            const status = error instanceof AppError ? error.details?.['status'] : undefined;
            const what = status === 429 ? 'rate limited (429)' : `failed${status ? ` (${String(status)})` : ''}`;
            reporter.note(`OpenAI ${what}: slowing down, try ${attempt + 1} in ${(delayMs / 1000).toFixed(1)} s`);
          },
          ...io.retry,
        },
      })
    : undefined;

  try {
    const summary = await ingestPaths(
      paths,
      { knowledge: createKnowledge(opened.db), embedder, reporter },
      {
        prune: args.values.prune,
        dryRun: args.values['dry-run'],
        ...(io.cwd ? { cwd: io.cwd } : {}),
        ...(io.signal ? { signal: io.signal } : {}),
        ...(io.embedding ? { embedding: io.embedding } : {}),
      },
    );
    io.stdout.write(formatIngestSummary(summary));
    const unfinished = summary.interrupted || (!summary.offline && !summary.dryRun && summary.missingEmbeddings > 0);
    return { exitCode: unfinished ? 1 : 0, summary };
  } catch (error) {
    reporter.finish();
    io.stderr.write(`Ingestion failed: ${error instanceof Error ? error.message : String(error)}\nFinished documents are kept; run again to go on.\n`);
    return { exitCode: 1 };
  } finally {
    await heartbeat?.stop();
    await opened.close();
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: { prune: { type: 'boolean', default: false }, 'dry-run': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
    strict: true,
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  readDotEnv();
  const controller = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\nStopping after the work in flight (Ctrl-C again to quit at once)...\n');
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  const { exitCode } = await runIngestCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
  process.exitCode = exitCode;
}
