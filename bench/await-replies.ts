import type { Fakes } from './start-fakes.ts';

/**
 * Resolves with the time (epoch ms) of the first reply the fake Twilio accepts for each of the given
 * patients, once every one has had a reply; rejects after timeoutMs.
 */
export function awaitReplies(fakes: Fakes, patients: string[], timeoutMs: number): Promise<Map<string, number>> {
  const waiting = new Set(patients);
  const replies = new Map<string, number>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${waiting.size} of ${patients.length} patients had no reply after ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = fakes.onReply(({ to, at }) => {
      if (!waiting.delete(to)) return;
      replies.set(to, at);
      if (waiting.size > 0) return;
      clearTimeout(timer);
      stop();
      resolve(replies);
    });
  });
}
