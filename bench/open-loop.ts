import { fork } from 'node:child_process';
import { once } from 'node:events';

export type OpenLoopPlan = {
  /** The webhook URL, as Twilio would call it (and sign it). */
  url: string;
  authToken: string;
  /** Requests a second. */
  rate: number;
  /** How many requests in all. */
  requests: number;
  /** Requests go round this many patients, from patient number `firstPatient` on. */
  patients: number;
  firstPatient: number;
  timeoutMs: number;
  /** Send pictures instead of questions: a fixed reply, no OpenAI call (for warming up). */
  media?: boolean;
};

export type OpenLoopResult = {
  sent: number;
  /** When the first request was due (epoch ms). */
  startedAt: number;
  /** How long sending took (requests / rate, if the generator kept up). */
  sendingMs: number;
  /** Until the last answer. */
  elapsedMs: number;
  /** From each request's sending to its answer, for requests that got one. */
  latencyMs: number[];
  /** How late each request was sent, against its schedule (the generator's own lag). */
  lateMs: number[];
  statuses: Record<string, number>;
  /** Requests that got no answer: 'timeout', 'ECONNRESET'… */
  errors: Record<string, number>;
  /** CPU the generator used. */
  cpuMs: number;
};

export type OpenLoopMessage = { event: 'prepared' } | { event: 'done'; result: OpenLoopResult };

export type OpenLoop = {
  pid: number;
  /** Starts sending; resolves once every request is answered or has failed. */
  go(): Promise<OpenLoopResult>;
  /** Ends the generator's process (after the CPU meter has read it). */
  close(): Promise<void>;
};

/** Forks the generator (bench/open-loop-process.ts) and has it sign every request before the clock starts. */
export async function prepareOpenLoop(plan: OpenLoopPlan): Promise<OpenLoop> {
  const child = fork(new URL('./open-loop-process.ts', import.meta.url), [], { execArgv: ['--import', 'tsx'] });
  const next = async (): Promise<OpenLoopMessage> => {
    const [message] = (await Promise.race([once(child, 'message'), once(child, 'exit').then(() => [undefined])])) as [OpenLoopMessage | undefined];
    if (!message) throw new Error('the load generator exited early');
    return message;
  };
  child.send({ op: 'prepare', plan });
  await next();
  return {
    pid: child.pid!,
    async go() {
      child.send({ op: 'go' });
      const message = await next();
      if (message.event !== 'done') throw new Error('unexpected message from the load generator');
      return message.result;
    },
    async close() {
      const exited = once(child, 'exit');
      child.kill();
      await exited;
    },
  };
}
