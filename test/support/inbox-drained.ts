import { waitFor } from '../fakes/wait-for.ts';
import type { TestService } from './start-test-service.ts';

/** Resolves once nothing waits in the inbox journal, nothing is pending or in progress in the inbox and the worker holds no message. */
export function inboxDrained(service: TestService): Promise<true> {
  return waitFor(async () => {
    if (service.intake.waiting > 0) return false;
    const stats = await service.inbox.stats();
    return !stats.pending && !stats.processing && service.worker.busy === 0;
  }, { what: 'inbox drained' });
}
