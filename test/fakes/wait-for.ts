/**
 * Polls `check` (sync or async) every 10 ms until it returns a truthy value, and resolves with that value.
 * Rejects with an Error naming `what` once `timeoutMs` (default 10000) has passed.
 * If `check` throws, the returned promise rejects with that error immediately.
 */
export async function waitFor<T>(
  check: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const what = options.what ?? 'condition';
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value as T;
    if (Date.now() - started >= timeoutMs) {
      throw new Error(`waitFor: timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
}
