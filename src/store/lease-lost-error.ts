import { AppError } from '../app-error.ts';

/**
 * A write after a claim was refused: this worker's lease on the message has run out or another owner
 * holds it (after a long pause or a network cut, another instance may be answering it now). The
 * handler stops where it is, sends nothing more and writes nothing more: the message is the new
 * owner's. Not retryable, and not a failure of the message.
 */
export class LeaseLostError extends AppError {
  constructor(readonly inboxId: number) {
    super(`the lease on inbox message ${inboxId} is no longer this worker's`, { code: 'lease_lost' });
    this.name = 'LeaseLostError';
  }
}
