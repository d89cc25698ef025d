import { z } from 'zod';

import { AppError } from '../../app-error.ts';

const errorBodySchema = z.object({
  error: z.object({
    message: z.string().optional(),
    code: z.number().optional(),
    error_subcode: z.number().optional(),
    fbtrace_id: z.string().optional(),
  }),
});

/**
 * Graph API codes that another try can cure: throttling of the app, the account or the phone number
 * (4, 17, 32, 613, 80007, 130429; 131048 spam rate limit; 131056 too many messages to one patient) and
 * 2, "temporarily unavailable".
 */
const RETRYABLE_CODES = new Set([2, 4, 17, 32, 613, 80007, 130429, 131048, 131056]);
/** A bad or expired token (190) and a closed 24-hour customer-service window (131047) fail every time. */
const PERMANENT_CODES = new Set([190, 131047]);

/**
 * A failed Graph API call as an AppError whose `retryable` the worker reads. Without a status the call
 * got no answer at all (reset, timeout): worth another try, like a 429 or a 5xx.
 */
export function graphApiError(options: { operation: 'send' | 'acknowledge'; status?: number; body?: unknown; cause?: unknown }): AppError {
  const { operation, status } = options;
  const parsed = errorBodySchema.safeParse(options.body);
  const error = parsed.success ? parsed.data.error : undefined;
  const code = error?.code;
  const retryable =
    code !== undefined && PERMANENT_CODES.has(code)
      ? false
      : (code !== undefined && RETRYABLE_CODES.has(code)) || status === undefined || status === 408 || status === 429 || status >= 500;
  const reason =
    status === undefined
      ? `got no answer: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`
      : `failed (${status}${code !== undefined ? `, code ${code}` : ''}): ${error?.message ?? 'no error message'}`;
  return new AppError(`Graph API ${operation} ${reason}`, {
    code: `${operation}_failed`,
    retryable,
    cause: options.cause,
    details: { status, providerCode: code, subcode: error?.error_subcode, fbtraceId: error?.fbtrace_id },
  });
}
