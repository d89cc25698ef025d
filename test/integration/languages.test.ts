import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ingestPaths } from '../../src/knowledge/ingest-paths.ts';
import { isAnswerRequest, isRewriteRequest, lastPatientMessage, startFakeOpenAI, type FakeOpenAI } from '../fakes/fake-openai.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { openaiEnv, twilioEnv } from '../support/fake-env.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC = '+15557654321';
const SPANISH_KNOWLEDGE = 'test/fixtures/knowledge-es';

describe('patients who write in Spanish, offline, with Spanish leaflets beside the English ones', () => {
  let twilioApi: FakeTwilio;
  let service: TestService;
  const ask = (from: string, body: string, extra: Record<string, string> = {}) =>
    postTwilioWebhook(service.url, { From: from, To: CLINIC, Body: body, ...extra }, { authToken: twilioApi.authToken });

  beforeAll(async () => {
    twilioApi = await startFakeTwilio();
    service = await startTestService(twilioEnv(twilioApi));
    const summary = await ingestPaths([SPANISH_KNOWLEDGE], { knowledge: service.knowledge, embedder: undefined });
    expect(summary.added).toBe(2);
  });
  afterEach(async () => {
    await waitFor(() => service.worker.busy === 0, { what: 'worker idle' });
    twilioApi.reset();
  });
  afterAll(async () => {
    await service?.stop();
    await twilioApi?.close();
  });

  it('when the leaflets are ingested, then each is indexed with its own language: Spanish stems find Spanish words', async () => {
    const both = { textSearch: ['english', 'spanish'] };
    // "inyección" and the leaflet's "inyecciones" are one Spanish stem; English would keep them apart.
    const spanish = await service.knowledge.search('inyección', undefined, both);
    expect(spanish[0]).toMatchObject({ title: 'Medicación e inyecciones', textSearch: 'spanish' });
    expect(await service.knowledge.search('inyección', undefined, { textSearch: ['english'] })).toEqual([]);
    // Declared in the file name (transferencia-embrionaria.es.md).
    expect((await service.knowledge.search('transferencias', undefined, both))[0]).toMatchObject({ title: 'Transferencia embrionaria', textSearch: 'spanish' });
  });

  it('when a patient asks in Spanish without accents, then the offline answer quotes the Spanish leaflet, in Spanish', async () => {
    await ask('+15551250001', 'cuando empiezo con las inyecciones');
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toMatch(/^De "Medicación e inyecciones" \(¿Cuándo empiezan las inyecciones\?\):\n/);
    expect(reply!.body).toMatch(/día 2 o 3 de la regla/);
    expect(reply!.body).toMatch(/Para cualquier duda sobre su propio tratamiento, llame al \+15550000000\.$/);
  });

  it('when a patient asks in English, then the English leaflet still answers, in English', async () => {
    await ask('+15551250002', 'When do I start my injections?');
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toMatch(/^From "Fertility Medications and Injections"/);
  });

  it('when a Spanish speaker has an emergency, asks for a person, or sends a photo, then the fixed replies are in Spanish', async () => {
    await ask('+15551250003', 'estoy sangrando muchisimo y empapo una compresa cada hora');
    const [emergency] = await twilioApi.waitForMessages(1);
    expect(emergency!.body).toMatch(/^Esto podría ser urgente\. Llame ahora a la línea de emergencias de Test Fertility Clinic: \+15559999999/);

    await ask('+15551250004', 'hola, una pregunta');
    await twilioApi.waitForMessages(2);
    // A photo says nothing about its language: the conversation's (Spanish) is kept.
    await ask('+15551250004', '', { NumMedia: '1', MediaContentType0: 'image/jpeg', MediaUrl0: `${twilioApi.apiBaseURL}/nowhere` });
    const [, , media] = await twilioApi.waitForMessages(3);
    expect(media!.body).toMatch(/^Por ahora solo puedo leer mensajes de texto/);

    await ask('+15551250005', 'quiero hablar con una persona');
    const [, , , handoff] = await twilioApi.waitForMessages(4);
    expect(handoff!.body).toMatch(/^Por supuesto\. Una persona de nuestro equipo le responderá aquí/);
  });

  it('when an English speaker sends a photo, then the reply is in English', async () => {
    await ask('+15551250006', '', { NumMedia: '1', MediaContentType0: 'image/jpeg', MediaUrl0: `${twilioApi.apiBaseURL}/nowhere` });
    const [media] = await twilioApi.waitForMessages(1);
    expect(media!.body).toMatch(/^I can only read text messages/);
  });
});

describe('a Spanish question to English leaflets, with a model', () => {
  let openai: FakeOpenAI;
  let twilioApi: FakeTwilio;
  let service: TestService;

  beforeAll(async () => {
    [openai, twilioApi] = await Promise.all([startFakeOpenAI(), startFakeTwilio()]);
    service = await startTestService({ ...openaiEnv(openai), ...twilioEnv(twilioApi) });
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.all([openai?.close(), twilioApi?.close()]);
  });

  it('when the question is Spanish, then the rewrite step translates it into English for the search, and the answer is asked for in Spanish', async () => {
    openai.chatReply = (body) => {
      if (isRewriteRequest(body)) return lastPatientMessage(body) === 'cuanto cuesta un ciclo de fiv' ? 'How much does an IVF cycle cost?' : lastPatientMessage(body);
      return 'Un ciclo de FIV cuesta lo que indica la hoja de precios.';
    };
    await postTwilioWebhook(service.url, { From: '+15551250010', To: CLINIC, Body: 'cuanto cuesta un ciclo de fiv' }, { authToken: twilioApi.authToken });
    const [reply] = await twilioApi.waitForMessages(1);
    expect(reply!.body).toBe('Un ciclo de FIV cuesta lo que indica la hoja de precios.');

    const chats = openai.calls.filter((call) => call.path.endsWith('/chat/completions'));
    const rewrite = chats.find((call) => isRewriteRequest(call.body));
    expect(rewrite!.body.messages[0].content).toMatch(/Write the query in English, the language of the documents/);
    const answer = chats.find((call) => isAnswerRequest(call.body));
    expect(answer!.body.messages[0].content).toMatch(/Reply in Spanish, the patient's language/);
    // The translated query found the English leaflet on costs.
    expect(answer!.body.messages.at(-1).content).toMatch(/<document title="[^"]*Cost/i);
    // One model step, not two: no other chat call than the rewrite, the triage and the answer.
    expect(chats).toHaveLength(3);
  });
});
