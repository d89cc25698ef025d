import OpenAI, { toFile } from 'openai';

import { AppError } from '../app-error.ts';
import type { Metrics } from '../metrics.ts';
import type { ChatModel, Embedder, Transcriber, TriageModel } from './models.ts';
import { audioFileName } from './audio-file-name.ts';
import { TRIAGE_RESPONSE_FORMAT, triagePrompt, readTriageAnswer } from './triage-prompt.ts';
import type { OpenAILimiter } from './openai-limiter.ts';
import { withRetry, type RetryOptions } from './with-retry.ts';

export type OpenAIModelsOptions = {
  apiKey: string;
  baseURL?: string;
  chatModel: string;
  embeddingModel: string;
  /** OPENAI_TRANSCRIBE_MODEL: voice notes. */
  transcribeModel?: string;
  timeoutMs: number;
  limiter: OpenAILimiter;
  metrics?: Metrics;
  retry?: Partial<RetryOptions>;
};

/** The embedding size of the `chunks.embedding` column. */
export const EMBEDDING_DIMENSIONS = 1536;

/**
 * OpenAI behind the Embedder and ChatModel types. The SDK's own retries are off (maxRetries 0): they
 * would sleep through a Retry-After while holding a concurrency slot. withRetry waits outside the slot.
 */
export function createOpenAIModels(options: OpenAIModelsOptions): { embedder: Embedder; chat: ChatModel; triage: TriageModel; transcriber: Transcriber } {
  const client = new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
    maxRetries: 0,
    timeout: options.timeoutMs,
    // Not from OPENAI_LOG: at debug the SDK logs request bodies, that is patients' questions.
    logLevel: 'warn',
  });
  const retry: RetryOptions = {
    attempts: 3,
    baseDelayMs: 250,
    maxDelayMs: 2_000,
    // One budget for the call and its retries: past it, the patient gets the fallback answer instead.
    deadlineMs: options.timeoutMs,
    retryAfterMs,
    ...options.retry,
  };
  const call = <T>(operation: string, request: () => Promise<T>) =>
    withRetry(
      () =>
        options.limiter(request).catch((cause: unknown) => {
          options.metrics?.openaiErrors.inc({ operation });
          throw toAppError(operation, cause);
        }),
      retry,
    );

  return {
    triage: {
      // One try, at the front of the queue. The answer waits for it only OPENAI_TRIAGE_TIMEOUT_MS (see
      // respond-to-message.ts); a verdict that comes later is still acted on, so the request itself may
      // take as long as any other.
      async assess(message) {
        const response = await options.limiter(
          () =>
            client.chat.completions.create(
              { model: options.chatModel, messages: triagePrompt(message), temperature: 0, max_completion_tokens: 60, response_format: TRIAGE_RESPONSE_FORMAT },
              { timeout: options.timeoutMs },
            ),
          { urgent: true },
        ).catch((cause: unknown) => {
          options.metrics?.openaiErrors.inc({ operation: 'triage' });
          throw toAppError('triage', cause);
        });
        const answer = response.choices[0]?.message;
        // A model that refuses to triage a message (structured outputs report it as `refusal`) was most
        // likely given one about self-harm: fail safe, raise the alarm.
        if (answer?.refusal) return 'self_harm';
        return readTriageAnswer(answer?.content ?? '');
      },
    },
    embedder: {
      async embed(texts) {
        const response = await call('embed', () =>
          client.embeddings.create({
            model: options.embeddingModel,
            input: texts,
            ...(options.embeddingModel.startsWith('text-embedding-3') ? { dimensions: EMBEDDING_DIMENSIONS } : {}),
          }),
        );
        return [...response.data].sort((a, b) => a.index - b.index).map((item) => item.embedding);
      },
    },
    transcriber: {
      // The audio goes up from memory (toFile over the bytes): it is never written to disk. The file
      // name's extension is what the endpoint reads the format from.
      async transcribe(audio) {
        const file = await toFile(audio.bytes, audioFileName(audio.contentType), { type: audio.contentType });
        const response = await call('transcribe', () =>
          client.audio.transcriptions.create({ model: options.transcribeModel ?? 'gpt-4o-mini-transcribe', file, response_format: 'json' }),
        );
        return response.text.trim();
      },
    },
    chat: {
      async complete(messages, completeOptions) {
        const response = await call('generate', () =>
          client.chat.completions.create({
            model: options.chatModel,
            messages,
            temperature: 0.2,
            max_completion_tokens: completeOptions?.maxTokens ?? 400,
          }),
        );
        const content = response.choices[0]?.message.content?.trim();
        if (!content) throw new AppError('OpenAI returned an empty answer', { code: 'openai_empty', retryable: true });
        return content;
      },
    },
  };
}

function toAppError(operation: string, cause: unknown): AppError {
  if (cause instanceof AppError) return cause;
  if (cause instanceof OpenAI.APIError) {
    const status = cause.status;
    // No status: the connection failed or timed out. 408/409/429/5xx: the server asks for another try.
    const retryable = status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
    return new AppError(`OpenAI ${operation} failed${status ? ` (${status})` : ''}: ${cause.message}`, {
      code: 'openai_error',
      retryable,
      cause,
      details: { status, retryAfter: cause.headers?.get?.('retry-after') ?? undefined },
    });
  }
  return new AppError(`OpenAI ${operation} failed: ${String(cause)}`, { code: 'openai_error', retryable: false, cause });
}

function retryAfterMs(error: unknown): number | undefined {
  const value = error instanceof AppError ? error.details?.retryAfter : undefined;
  if (typeof value !== 'string') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
