import type { FakeOpenAI } from '../fakes/fake-openai.ts';
import type { FakeTwilio } from '../fakes/fake-twilio.ts';

/** The environment that points the service at the fakes, as an operator would point it at the real ones. */
export const openaiEnv = (openai: FakeOpenAI) => ({ OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: openai.baseURL });

export const twilioEnv = (twilioApi: FakeTwilio) => ({
  TWILIO_ACCOUNT_SID: twilioApi.accountSid,
  TWILIO_AUTH_TOKEN: twilioApi.authToken,
  TWILIO_API_BASE_URL: twilioApi.apiBaseURL,
});
