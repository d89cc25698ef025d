import type { InboundMessage } from '../channels/channel.ts';

/** One inbound message as the webhook route hands it over: classified, and with its sender's rate limit. */
export type Arrival = { message: InboundMessage; rateLimit: number };

/**
 * Where the webhook route puts the messages it is about to acknowledge. `accept` returns (or
 * resolves) once they are safe, stored in the inbox or in its journal, and throws an AppError with
 * the HTTP status to answer when they are not: the provider then delivers them again.
 */
export type Intake = {
  accept(arrivals: Arrival[]): void | Promise<void>;
  /** Messages accepted and not yet stored (or refused). */
  readonly waiting: number;
  /** Resolves once the messages an earlier process acknowledged but did not store are in the inbox. */
  replayed: Promise<void>;
  /** Stores what is still waiting, for `timeoutMs` at most; answers how many are left for the next start. */
  stop(timeoutMs: number): Promise<{ left: number }>;
};

/** Messages were stored; `urgent` when one of them is an emergency (the worker's urgent lane). */
export type OnStored = (stored: { urgent: boolean }) => void;
