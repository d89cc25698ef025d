import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** Latency of the fakes; `triageMs` is the model's short triage call (a few output tokens), `chatMs` an answer. */
export type Latency = { embeddingMs: number; chatMs: number; triageMs: number; sendMs: number };

export type FakeStats = {
  openai: { embeddings: number; chat: number; inFlight: number; maxInFlight: number };
  twilio: { messages: number; requests: number };
};

export type OpenAICallSpan = { operation: 'embed' | 'chat'; startedAt: number; endedAt: number };

type TwilioAccount = { accountSid: string; authToken: string; apiBaseURL: string };

export type FakesRequest =
  | { id: number; op: 'configure'; latency: Latency }
  | { id: number; op: 'stats' }
  | { id: number; op: 'resetMaxInFlight' }
  | { id: number; op: 'calls' }
  | { id: number; op: 'close' };

/** A request before it is numbered (Omit, distributed over the union). */
type FakesOperation<R = FakesRequest> = R extends FakesRequest ? Omit<R, 'id'> : never;

export type FakesReply =
  | { event: 'ready'; openaiBaseURL: string; twilio: TwilioAccount }
  | { event: 'reply'; to: string; at: number }
  | { id: number; result: unknown };

export type Fakes = {
  pid: number;
  twilio: TwilioAccount;
  /** The environment that points the service at these fakes. */
  env: Record<string, string>;
  /** Sets the latency and starts counting calls and in-flight calls afresh. */
  configure(latency: Latency): Promise<void>;
  stats(): Promise<FakeStats>;
  /** Every OpenAI call since configure(), with when it arrived and when it was answered (epoch ms). */
  calls(): Promise<OpenAICallSpan[]>;
  /** Starts counting the most OpenAI calls in flight again, from those in flight now. */
  resetMaxInFlight(): Promise<void>;
  /** Called for each reply the fake Twilio accepts: the patient it goes to, and when (epoch ms). */
  onReply(listener: (reply: { to: string; at: number }) => void): () => void;
  close(): Promise<void>;
};

/** Starts the fake OpenAI and the fake Twilio in a child process (bench/fakes-process.ts). */
export async function startFakes(latency: Latency): Promise<Fakes> {
  const child: ChildProcess = fork(new URL('./fakes-process.ts', import.meta.url), [], { execArgv: ['--import', 'tsx'] });
  const pending = new Map<number, (result: unknown) => void>();
  const listeners = new Set<(reply: { to: string; at: number }) => void>();
  let nextId = 1;
  let ready: Extract<FakesReply, { event: 'ready' }> | undefined;
  child.on('message', (message: FakesReply) => {
    if ('id' in message) {
      pending.get(message.id)?.(message.result);
      pending.delete(message.id);
    } else if (message.event === 'reply') {
      for (const listener of listeners) listener(message);
    } else {
      ready = message;
    }
  });
  const request = <T>(op: FakesOperation): Promise<T> => {
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, resolve as (result: unknown) => void);
      child.send({ ...op, id });
    });
  };
  while (!ready) {
    const [message] = (await Promise.race([once(child, 'message'), once(child, 'exit').then(() => [undefined])])) as [FakesReply | undefined];
    if (!message) throw new Error('the fakes process exited before it was ready');
  }
  const { openaiBaseURL, twilio } = ready;
  await request({ op: 'configure', latency });
  return {
    pid: child.pid!,
    twilio,
    env: {
      OPENAI_API_KEY: 'bench-key',
      OPENAI_BASE_URL: openaiBaseURL,
      TWILIO_ACCOUNT_SID: twilio.accountSid,
      TWILIO_AUTH_TOKEN: twilio.authToken,
      TWILIO_API_BASE_URL: twilio.apiBaseURL,
    },
    configure: (next) => request({ op: 'configure', latency: next }),
    stats: () => request<FakeStats>({ op: 'stats' }),
    resetMaxInFlight: () => request({ op: 'resetMaxInFlight' }),
    calls: () => request<OpenAICallSpan[]>({ op: 'calls' }),
    onReply(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      const exited = once(child, 'exit');
      child.send({ op: 'close', id: 0 });
      await exited;
    },
  };
}
