import { waitFor } from '../test/fakes/wait-for.ts';
import { prepareOpenLoop } from './open-loop.ts';
import type { Fakes } from './start-fakes.ts';

/**
 * Warms a fresh service up without calling OpenAI: pictures from patients the measurement does not
 * use, each answered with the fixed "please type your question" reply, waited for. A new process
 * spends its first seconds compiling; a running service has long done so.
 */
export async function warmUpWithPictures(url: string, fakes: Fakes, pictures = 200): Promise<void> {
  const before = (await fakes.stats()).twilio.messages;
  const load = await prepareOpenLoop({ url: `${url}/webhooks/twilio`, authToken: fakes.twilio.authToken, rate: 100, requests: pictures, patients: pictures, firstPatient: 700_000, timeoutMs: 15_000, media: true });
  await load.go();
  await load.close();
  await waitFor(async () => (await fakes.stats()).twilio.messages >= before + pictures, { timeoutMs: 60_000, what: 'replies to the warm-up pictures' });
}
