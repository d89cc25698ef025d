// The outside world of a benchmark, in a process of its own: the fake OpenAI and the fake Twilio from
// test/fakes, with latency. Kept off the service's process so that their work (building embeddings,
// JSON) neither delays the service's event loop nor counts as its time. Driven by bench/start-fakes.ts
// over the IPC channel.
import { startFakeOpenAI } from '../test/fakes/fake-openai.ts';
import { startFakeTwilio } from '../test/fakes/fake-twilio.ts';
import { waitFor } from '../test/fakes/wait-for.ts';
import { epochMs } from './clock.ts';
import type { FakesReply, FakesRequest } from './start-fakes.ts';

if (!process.send) throw new Error('fakes-process.ts runs as a child of bench/start-fakes.ts');
const send = (message: FakesReply) => process.send!(message);

const [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);

// Each reply Twilio accepts is reported at once, with the time it was accepted.
void (async () => {
  for (let seen = 0; ; seen++) {
    const messages = await twilioApi.waitForMessages(seen + 1, 2 ** 31 - 1);
    const message = messages[seen]!;
    send({ event: 'reply', to: message.to, at: epochMs() });
  }
})();

process.on('message', async (request: FakesRequest) => {
  if (request.op === 'configure') {
    // Calls a stopped service left behind would count towards the next service's calls in flight.
    await waitFor(() => openai.inFlight === 0, { timeoutMs: 60_000, what: 'OpenAI calls of the previous run to end' });
    openai.latency = { embeddings: request.latency.embeddingMs, chat: request.latency.chatMs, triage: request.latency.triageMs };
    twilioApi.latencyMs = request.latency.sendMs;
    openai.calls = [];
    openai.maxInFlight = 0;
    send({ id: request.id, result: null });
  } else if (request.op === 'stats') {
    const embeddings = openai.calls.filter((call) => call.path.endsWith('/embeddings')).length;
    send({
      id: request.id,
      result: {
        openai: { embeddings, chat: openai.calls.length - embeddings, inFlight: openai.inFlight, maxInFlight: openai.maxInFlight },
        twilio: { messages: twilioApi.messages.length, requests: twilioApi.requests },
      },
    });
  } else if (request.op === 'calls') {
    const spans = openai.calls.map((call) => ({ operation: call.path.endsWith('/embeddings') ? 'embed' : 'chat', startedAt: call.startedAt, endedAt: call.endedAt ?? Date.now() }));
    send({ id: request.id, result: spans });
  } else if (request.op === 'resetMaxInFlight') {
    openai.maxInFlight = openai.inFlight;
    send({ id: request.id, result: null });
  } else if (request.op === 'close') {
    void Promise.all([openai.close(), twilioApi.close()]).finally(() => process.exit(0));
  }
});

send({
  event: 'ready',
  openaiBaseURL: openai.baseURL,
  twilio: { accountSid: twilioApi.accountSid, authToken: twilioApi.authToken, apiBaseURL: twilioApi.apiBaseURL },
});
