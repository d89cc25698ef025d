/**
 * The one error type the service raises on purpose. `retryable` is what the worker reads to decide
 * between trying again and giving up: never match on message text.
 */
export type AppErrorOptions = {
  code: string;
  retryable?: boolean;
  cause?: unknown;
  /** HTTP status to answer with, when the error reaches a request handler. */
  status?: number;
  details?: Record<string, unknown>;
};

export class AppError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(message: string, options: AppErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    this.details = options.details;
  }
}

/** True for errors that another try may cure: our own retryable errors, and network failures. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof AppError) return error.retryable;
  return false;
}
