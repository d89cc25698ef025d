import { AppError } from '../app-error.ts';

/**
 * A download that failed, as an AppError for the worker: no answer at all, 408, 429 and 5xx are worth
 * another try; anything else (a 401 from wrong credentials, a 404 for media the provider no longer
 * keeps) fails the same way every time.
 */
export function mediaFetchError(provider: string, options: { status?: number; cause?: unknown }): AppError {
  const { status } = options;
  const retryable = status === undefined || status === 408 || status === 429 || status >= 500;
  const reason = status === undefined ? `got no answer: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}` : `failed (${status})`;
  return new AppError(`${provider} media download ${reason}`, {
    code: retryable ? 'media_download_failed' : 'media_unavailable',
    retryable,
    cause: options.cause,
    details: { status },
  });
}
