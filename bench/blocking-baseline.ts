import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

import express from 'express';

import { createOpenAILimiter } from '../src/ai/openai-limiter.ts';
import { createOpenAIModels } from '../src/ai/openai-models.ts';
import { conversationKey } from '../src/channels/channel.ts';
import { createTwilioSender, TWILIO_MAX_BODY } from '../src/channels/twilio/twilio-sender.ts';
import { twilioWebhook } from '../src/channels/twilio/twilio-webhook.ts';
import { openDatabase } from '../src/db/open-database.ts';
import { fromThisMachine } from '../src/http/from-this-machine.ts';
import { buildPrompt } from '../src/pipeline/build-prompt.ts';
import { splitMessage } from '../src/pipeline/split-message.ts';
import { createInbox } from '../src/store/inbox.ts';
import { createKnowledge } from '../src/store/knowledge.ts';
import type { BenchOptions } from './options.ts';
import { patientBurst, type Burst } from './patient-burst.ts';
import { benchLogger } from './start-bench-service.ts';
import type { Fakes } from './start-fakes.ts';

const CLINIC = { name: 'Bench Fertility Clinic', phone: '+15550000000', emergencyPhone: '+15559999999' };

/**
 * What this design replaces, for comparison: a webhook handler that answers inside the request, as a
 * synchronous service does, one request at a time (a global lock, like a single-worker server).
 * Embedding, history, search, chat and send run one after the other, through the same SQL functions,
 * OpenAI client and Twilio client as the real service, against the same fakes and database.
 */
export async function startBlockingService(fakes: Fakes, knowledge: Uint8Array): Promise<{ url: string; stop(): Promise<void> }> {
  const logger = benchLogger();
  const { db, close } = await openDatabase({ dataDir: 'memory://', supabase: undefined, postgres: undefined }, { logger, loadDataDir: knowledge });
  const inbox = createInbox(db);
  const search = createKnowledge(db);
  const { embedder, chat } = createOpenAIModels({
    apiKey: fakes.env.OPENAI_API_KEY!,
    baseURL: fakes.env.OPENAI_BASE_URL!,
    chatModel: 'gpt-4o-mini',
    embeddingModel: 'text-embedding-3-small',
    timeoutMs: 20_000,
    limiter: createOpenAILimiter(1),
  });
  const sender = createTwilioSender({ accountSid: fakes.twilio.accountSid, authToken: fakes.twilio.authToken, apiBaseUrl: fakes.twilio.apiBaseURL });
  const webhook = twilioWebhook(fakes.twilio.authToken);

  let previous: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const run = previous.then(work);
    previous = run.catch(() => undefined);
    return run;
  };
  // Requests still queued when the bench stops it (under a load it cannot keep up with) are dropped
  // quietly, not each failed on the closed database.
  let stopped = false;

  const app = express();
  app.post('/webhooks/twilio', express.raw({ type: () => true }), async (req, res) => {
    await oneAtATime(async () => {
      if (stopped) return;
      const request = { url: `${req.protocol}://${req.get('host')}${req.originalUrl}`, headers: req.headers, rawBody: req.body as Buffer, fromThisMachine: fromThisMachine(req) };
      webhook.verify(request);
      for (const message of webhook.parse(request).messages) {
        const conversation = conversationKey(message);
        const { id } = await inbox.enqueue(message);
        const [embedding] = await embedder.embed([message.body]);
        const history = await inbox.history(conversation, id);
        const passages = await search.search(message.body, embedding);
        const reply = await chat.complete(buildPrompt({ question: message.body, history, passages, clinic: CLINIC }));
        for (const body of splitMessage(reply, TWILIO_MAX_BODY)) {
          const { providerMessageId } = await sender.send({ from: message.business, to: message.patient, body });
          await inbox.recordOutbound({ inboxId: id, channel: message.channel, conversation, body, providerMessageId });
        }
      }
    }).catch((error: unknown) => {
      if (!stopped) throw error;
    });
    res.status(200).type('text/xml').send('<Response></Response>');
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async stop() {
      stopped = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await close();
    },
  };
}

/** Scenario 4: the throughput workload (a burst of patients) through the blocking handler. */
export async function blockingBaseline(options: BenchOptions, fakes: Fakes, knowledge: Uint8Array): Promise<Burst> {
  await fakes.configure(options.latency);
  const service = await startBlockingService(fakes, knowledge);
  try {
    const { embeddingMs, chatMs, sendMs } = options.latency;
    const expectedMs = options.throughput.patients * (embeddingMs + chatMs + sendMs);
    return await patientBurst({ url: `${service.url}/webhooks/twilio`, fakes, patients: options.throughput.patients, timeoutMs: expectedMs * 2 + 60_000 });
  } finally {
    await service.stop();
  }
}
