import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { PgliteDatabase } from '../../src/db/pglite/pglite-database.ts';
import { createStaffSignIn } from '../../src/staff/staff-sign-in.ts';
import { createStaffStore } from '../../src/staff/staff-store.ts';
import { startFakeGraphApi, type FakeGraphApi } from '../fakes/fake-graph-api.ts';
import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { closedPort } from '../support/closed-port.ts';
import { twilioEnv } from '../support/fake-env.ts';
import { inboxDrained } from '../support/inbox-drained.ts';
import { metaTextPayload, postMetaWebhook } from '../support/meta-webhook-client.ts';
import { codeIn, createStaffClient } from '../support/staff-client.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

const CLINIC_SMS = '+15557654321';
const CLINIC_WHATSAPP = 'whatsapp:+15557654322';
const STAFF = '+15550003331';
const OTHER_STAFF = '+15550003332';
const ALERT_SMS_FROM = '+15550009999';
const EMERGENCY = "I'm bleeding really heavily and soaking through pads every hour";

type Conversation = { id: number; patient: string; channel: string; state: string; waitingSince: string | null; waitingSeconds: number | null };

describe('staff console API (Twilio, SMS and WhatsApp)', () => {
  let twilioApi: FakeTwilio;
  let service: TestService;
  const query = <T>(sql: string, params: unknown[] = []) => (service.db as PgliteDatabase).query<T>(sql, params);
  const sms = (from: string, body: string) => postTwilioWebhook(service.url, { From: from, To: CLINIC_SMS, Body: body }, { authToken: twilioApi.authToken });
  const whatsapp = (from: string, body: string) =>
    postTwilioWebhook(service.url, { From: from, To: CLINIC_WHATSAPP, Body: body }, { authToken: twilioApi.authToken, opensWindowOn: twilioApi });
  const to = (address: string) => twilioApi.messages.filter((message) => message.to === address);
  const codesSent = () => to(STAFF).filter((message) => /sign-in code/.test(message.body));
  const latestCode = async () => codeIn((await waitFor(() => codesSent().at(-1), { what: 'a sign-in code' })).body);
  const idle = () => inboxDrained(service);

  /** A signed-in staff client. The code arrives by SMS from STAFF_ALERT_SMS_FROM (the phone never wrote to the clinic). */
  async function signedIn(phone = STAFF) {
    const staff = createStaffClient(service.url);
    const before = to(phone).length;
    await staff.signIn(phone, async () => codeIn((await waitFor(() => to(phone)[before], { what: 'the sign-in code' })).body));
    return staff;
  }
  const conversationOf = async (staff: ReturnType<typeof createStaffClient>, patient: string): Promise<Conversation> =>
    waitFor(async () => ((await staff.request('/staff/api/conversations')).json as Conversation[]).find((c) => c.patient === patient), {
      what: `the conversation of ${patient}`,
    });

  beforeAll(async () => {
    twilioApi = await startFakeTwilio();
    const port = await closedPort();
    service = await startTestService({
      ...twilioEnv(twilioApi),
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      STAFF_NUMBERS: `${STAFF},${OTHER_STAFF}`,
      STAFF_ALERT_NUMBERS: STAFF,
      STAFF_ALERT_SMS_FROM: ALERT_SMS_FROM,
    });
  });
  afterEach(async () => {
    await idle();
    await twilioApi.settled();
    twilioApi.reset();
    // Each test starts with fresh sign-in limits.
    await query('delete from staff_login_requests');
  });
  afterAll(async () => {
    await service?.stop();
    await twilioApi?.close();
  });

  it('without a session, every route answers 401 and nothing about a patient', async () => {
    await sms('+15556200001', 'What is IVF?');
    await idle();
    const stranger = createStaffClient(service.url);
    for (const [method, path] of [
      ['GET', '/staff/api/session'],
      ['GET', '/staff/api/conversations'],
      ['GET', '/staff/api/conversations/1'],
      ['POST', '/staff/api/conversations/1/reply'],
      ['POST', '/staff/api/conversations/1/resume'],
      ['POST', '/staff/api/conversations/1/take-over'],
      ['POST', '/staff/api/conversations/1/template'],
      ['GET', '/staff/api/events'],
      ['GET', '/staff/api/uncovered'],
      ['POST', '/staff/api/logout'],
    ] as const) {
      const response = await stranger.request(path, { method, ...(method === 'POST' ? { body: { body: 'hello' } } : {}) });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(response.text).not.toMatch(/6200001|IVF/);
    }
    // A forged cookie is no session either.
    stranger.cookie = `clinic_staff=${'A'.repeat(43)}`;
    expect((await stranger.request('/staff/api/conversations')).status).toBe(401);
    expect(to(ALERT_SMS_FROM)).toHaveLength(0);
  });

  it('when staff sign in with the code sent to their phone, then the session cookie is HttpOnly and SameSite=Strict, and the code works once', async () => {
    const staff = createStaffClient(service.url);
    const login = await staff.request('/staff/api/login', { body: { phone: '+1 (555) 000-3331' } });
    expect(login.status).toBe(202);
    const message = await waitFor(() => codesSent()[0], { what: 'the code' });
    expect(message.from).toBe(ALERT_SMS_FROM);
    const code = codeIn(message.body);

    const wrong = await staff.request('/staff/api/verify', { body: { phone: STAFF, code: code === '000000' ? '111111' : '000000' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error.code).toBe('invalid_code');

    const verify = await staff.request('/staff/api/verify', { body: { phone: STAFF, code } });
    expect(verify.status).toBe(200);
    expect(verify.setCookie).toMatch(/^clinic_staff=[A-Za-z0-9_-]{40,}; Path=\/staff; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect(verify.setCookie).not.toMatch(/Secure/); // PUBLIC_URL is http here
    const session = await staff.request('/staff/api/session');
    expect(session.json).toMatchObject({ staffNumber: STAFF, csrfToken: verify.json.csrfToken });

    const again = createStaffClient(service.url);
    expect((await again.request('/staff/api/verify', { body: { phone: STAFF, code } })).status).toBe(401);
    // The sign-in is recorded, by whom.
    expect(await query(`select staff_number, action from staff_actions where action = 'sign_in' order by id desc limit 1`)).toEqual([
      { staff_number: STAFF, action: 'sign_in' },
    ]);
  });

  it('when someone asks for a code for a number that is not staff, then they get the same answer and no code is sent', async () => {
    const stranger = createStaffClient(service.url);
    const staffAnswer = await stranger.request('/staff/api/login', { body: { phone: STAFF } });
    const strangerAnswer = await stranger.request('/staff/api/login', { body: { phone: '+15556200099' } });
    expect(strangerAnswer.status).toBe(staffAnswer.status);
    expect(strangerAnswer.json).toEqual(staffAnswer.json);
    await waitFor(() => codesSent().length === 1, { what: "the staff member's code" });
    await twilioApi.settled();
    expect(twilioApi.messages.filter((message) => message.to === '+15556200099')).toHaveLength(0);
    // Guessing codes for a number that is not staff looks exactly like guessing them for staff.
    const guess = await stranger.request('/staff/api/verify', { body: { phone: '+15556200099', code: '123456' } });
    expect(guess.status).toBe(401);
    expect(guess.json.error.code).toBe('invalid_code');
    expect((await stranger.request('/staff/api/login', { body: { phone: 'not a phone' } })).status).toBe(400);
  });

  it('when a code is guessed wrong five times, then it is locked: even the right code no longer opens a session', async () => {
    const staff = createStaffClient(service.url);
    await staff.request('/staff/api/login', { body: { phone: STAFF } });
    const code = await latestCode();
    const wrongCode = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 5; i++) expect((await staff.request('/staff/api/verify', { body: { phone: STAFF, code: wrongCode } })).status).toBe(401);
    expect((await staff.request('/staff/api/verify', { body: { phone: STAFF, code } })).status).toBe(401);
    // A new code works.
    await staff.request('/staff/api/login', { body: { phone: STAFF } });
    const fresh = await waitFor(async () => {
      const latest = await latestCode();
      return latest !== code ? latest : undefined;
    }, { what: 'a new code' });
    expect((await staff.request('/staff/api/verify', { body: { phone: STAFF, code: fresh } })).status).toBe(200);
  });

  it('when wrong codes keep coming across new codes, then after ten in a day the number cannot sign in, and the log says so', async () => {
    const staff = createStaffClient(service.url);
    let code = '';
    for (let round = 0; round < 2; round++) {
      await staff.request('/staff/api/login', { body: { phone: OTHER_STAFF } });
      code = codeIn((await waitFor(() => to(OTHER_STAFF)[round], { what: `code ${round + 1}` })).body);
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      for (let i = 0; i < 5; i++) await staff.request('/staff/api/verify', { body: { phone: OTHER_STAFF, code: wrong } });
    }
    await staff.request('/staff/api/login', { body: { phone: OTHER_STAFF } });
    const fresh = codeIn((await waitFor(() => to(OTHER_STAFF)[2], { what: 'a third code' })).body);
    expect((await staff.request('/staff/api/verify', { body: { phone: OTHER_STAFF, code: fresh } })).status).toBe(401);
    expect(service.logs.some((line) => line.level === 50 && /sign-in locked for a day/.test(line.msg ?? ''))).toBe(true);
    await query('delete from staff_login_failures');
  });

  it('when a number is taken out of STAFF_NUMBERS, then its sessions stop working at once', async () => {
    const staff = await signedIn(OTHER_STAFF);
    const token = staff.cookie!.split('=')[1]!;
    // The same database, as a service restarted with OTHER_STAFF removed from STAFF_NUMBERS sees it.
    const signIn = (staffNumbers: string[]) =>
      createStaffSignIn({ store: createStaffStore(service.db), staffNumbers, sessionHours: 12, deliverCode: async () => undefined, logger: service.logger });
    expect(await signIn([STAFF, OTHER_STAFF]).session(token)).toMatchObject({ staffNumber: OTHER_STAFF });
    expect(await signIn([STAFF]).session(token)).toBeUndefined();
  });

  it('when an expired code is used, then it is refused', async () => {
    const staff = createStaffClient(service.url);
    await staff.request('/staff/api/login', { body: { phone: OTHER_STAFF } });
    const code = codeIn((await waitFor(() => to(OTHER_STAFF)[0], { what: 'the code' })).body);
    await query(`update staff_login_codes set expires_at = now() - interval '1 second' where staff_number = $1`, [OTHER_STAFF]);
    expect((await staff.request('/staff/api/verify', { body: { phone: OTHER_STAFF, code } })).status).toBe(401);
  });

  it('when sign-in is asked for too often, for one number or from one address, then it answers 429 with Retry-After and sends nothing more', async () => {
    const client = createStaffClient(service.url);
    for (let i = 0; i < 5; i++) expect((await client.request('/staff/api/login', { body: { phone: STAFF } })).status).toBe(202);
    const limited = await client.request('/staff/api/login', { body: { phone: STAFF } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    await waitFor(() => codesSent().length === 5, { what: 'five codes' });
    await twilioApi.settled();
    expect(codesSent()).toHaveLength(5);

    // From one address, many numbers: the address limit (20 in 15 minutes) stops it.
    await query('delete from staff_login_requests');
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await client.request('/staff/api/login', { body: { phone: `+1555620${String(i).padStart(4, '0')}` } })).status);
    expect(statuses.slice(0, 20).every((status) => status === 202)).toBe(true);
    expect(statuses[20]).toBe(429);
  });

  it('when a state change comes without the session’s X-CSRF-Token, or not as JSON, then it is refused and nothing is sent', async () => {
    const patient = '+15556200002';
    await sms(patient, 'What is IVF?');
    await idle();
    const staff = await signedIn();
    const conversation = await conversationOf(staff, patient);
    twilioApi.reset();
    const noToken = await staff.request(`/staff/api/conversations/${conversation.id}/reply`, { body: { body: 'Hello from the clinic' }, csrf: null });
    expect(noToken.status).toBe(403);
    expect(noToken.json.error.code).toBe('csrf');
    const wrongToken = await staff.request(`/staff/api/conversations/${conversation.id}/reply`, { body: { body: 'Hello' }, csrf: 'x'.repeat(32) });
    expect(wrongToken.status).toBe(403);
    const form = await staff.request(`/staff/api/conversations/${conversation.id}/reply`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    expect((await staff.request(`/staff/api/conversations/${conversation.id}/take-over`, { method: 'POST', csrf: null })).status).toBe(403);
    await idle();
    expect(to(patient)).toHaveLength(0);
    expect((await staff.request(`/staff/api/conversations/${conversation.id}`)).json.paused).toBe(false);
  });

  it('lists emergencies first, then handoffs waiting for a person, then the most recent, with the full address, channel and waiting time', async () => {
    const quiet = '+15556200010';
    const asking = 'whatsapp:+15556200011';
    const urgent = '+15556200012';
    await sms(quiet, 'What is IVF?');
    await idle();
    await whatsapp(asking, 'Can I talk to a real person please?');
    await idle();
    await sms(urgent, EMERGENCY);
    await idle();
    await sms(quiet, 'And how long does it take?');
    await idle();

    const staff = await signedIn();
    const list = (await staff.request('/staff/api/conversations')).json as Conversation[];
    const mine = list.filter((c) => [quiet, asking, urgent].includes(c.patient));
    expect(mine.map((c) => [c.patient, c.state])).toEqual([
      [urgent, 'emergency'],
      [asking, 'handoff'],
      [quiet, 'bot'],
    ]);
    expect(list.indexOf(mine[0]!)).toBe(0);
    expect(mine[0]).toMatchObject({ channel: 'twilio', waitingSeconds: expect.any(Number) });
    expect(mine[1]).toMatchObject({ channel: 'twilio', waitingSince: expect.any(String) });
    expect(mine[2]!.waitingSince).toBeNull();
    // Every conversation waiting for a person comes before every one that is not.
    const firstNotWaiting = list.findIndex((c) => c.waitingSince === null);
    expect(list.slice(firstNotWaiting).every((c) => c.waitingSince === null)).toBe(true);
  });

  it('when staff reply over SMS, then the patient gets it from the number they wrote to, the assistant pauses, and the reply shows who sent it and its delivery', async () => {
    const patient = '+15556200020';
    twilioApi.reportDelivery = true;
    await sms(patient, 'What is IVF?');
    await waitFor(() => to(patient).length === 1, { what: 'the answer' });
    await idle();
    const staff = await signedIn();
    const conversation = await conversationOf(staff, patient);

    twilioApi.reportDelivery = true;
    const reply = await staff.request(`/staff/api/conversations/${conversation.id}/reply`, { body: { body: 'Hi, this is Ana from the clinic. How can I help?' } });
    expect(reply.status).toBe(202);
    const sent = await waitFor(() => to(patient)[1], { what: 'the staff reply' });
    expect(sent).toMatchObject({ from: CLINIC_SMS, body: 'Hi, this is Ana from the clinic. How can I help?' });
    await twilioApi.waitForStatusCallbacks(1);

    // Paused: the next question is not answered by the assistant.
    await sms(patient, 'Thanks. Also, what does ICSI mean?');
    await idle();
    expect(to(patient)).toHaveLength(2);

    const detail = await waitFor(async () => {
      const { json } = await staff.request(`/staff/api/conversations/${conversation.id}`);
      return json.messages.some((m: any) => m.origin === 'staff' && m.status === 'delivered') ? json : undefined;
    }, { what: 'the delivered staff reply in the conversation' });
    expect(detail).toMatchObject({ id: conversation.id, patient, channel: 'twilio', state: 'handoff', paused: true, window: { applies: false } });
    const kinds = detail.messages.map((m: any) => [m.type, m.type === 'out' ? m.origin : m.type === 'in' ? m.text : m.action]);
    expect(kinds).toEqual([
      ['in', 'What is IVF?'],
      ['out', expect.stringMatching(/^(fallback|generated)$/)],
      ['out', 'staff'],
      ['in', 'Thanks. Also, what does ICSI mean?'],
    ]);
    expect(detail.messages[1].sources.length).toBeGreaterThan(0);
    expect(detail.messages[2]).toMatchObject({ by: STAFF, status: 'delivered' });
    // The patient wrote after the staff reply: they are waiting again.
    expect(detail.waitingSince).not.toBeNull();
  });

  it('when staff hand the conversation back, then the assistant answers again, and both actions are recorded in the conversation', async () => {
    const patient = '+15556200030';
    await sms(patient, 'What is IVF?');
    await idle();
    const staff = await signedIn();
    const { id } = await conversationOf(staff, patient);
    expect((await staff.request(`/staff/api/conversations/${id}/take-over`, { method: 'POST' })).json).toMatchObject({ status: 'paused' });
    await sms(patient, 'What is ICSI?');
    await idle();
    expect(to(patient)).toHaveLength(1);

    expect((await staff.request(`/staff/api/conversations/${id}/resume`, { method: 'POST' })).json).toMatchObject({ status: 'resumed' });
    await sms(patient, 'How long does a cycle take?');
    await waitFor(() => to(patient).length === 2, { what: 'the assistant answering again' });
    const { json } = await staff.request(`/staff/api/conversations/${id}`);
    expect(json.messages.filter((m: any) => m.type === 'action').map((m: any) => [m.action, m.by])).toEqual([
      ['take_over', STAFF],
      ['resume', STAFF],
    ]);
    expect(json.state).toBe('bot');
  });

  it('when the patient opted out, then staff cannot message them (409) and nothing is sent', async () => {
    const patient = 'whatsapp:+15556200040';
    await whatsapp(patient, 'What is IVF?');
    await idle();
    await whatsapp(patient, 'STOP');
    await idle();
    const staff = await signedIn();
    const conversation = await conversationOf(staff, patient);
    expect(conversation.state).toBe('opted_out');
    const before = to(patient).length;
    const reply = await staff.request(`/staff/api/conversations/${conversation.id}/reply`, { body: { body: 'Hello?' } });
    expect(reply.status).toBe(409);
    expect(reply.json.error.code).toBe('opted_out');
    await idle();
    expect(to(patient)).toHaveLength(before);
  });

  it('when a WhatsApp patient has not written for a day, then the console says the window is closed and a reply is refused before it is sent', async () => {
    const patient = 'whatsapp:+15556200050';
    await whatsapp(patient, 'What is IVF?');
    await idle();
    await query(`update inbox set received_at = now() - interval '25 hours' where patient = $1`, [patient]);
    const staff = await signedIn();
    const { id } = await conversationOf(staff, patient);
    const detail = (await staff.request(`/staff/api/conversations/${id}`)).json;
    expect(detail.window).toMatchObject({ applies: true, open: false });
    expect(detail.followUpTemplate).toBeNull();
    const reply = await staff.request(`/staff/api/conversations/${id}/reply`, { body: { body: 'Hello' } });
    expect(reply.status).toBe(409);
    expect(reply.json.error.code).toBe('window_closed');
    expect((await staff.request(`/staff/api/conversations/${id}/template`, { method: 'POST' })).json.error.code).toBe('no_template');
    await idle();
    expect(to(patient)).toHaveLength(1);
  });

  it('when a handoff waits longer than HANDOFF_REMIND_MINUTES, then staff are alerted again with a link to the conversation, once per round', async () => {
    const patient = '+15556200060';
    await sms(patient, 'I want to speak to someone from the team please');
    await waitFor(() => to(STAFF).length === 1, { what: 'the first alert' });
    await idle();
    const inboxId = (await query<{ id: number }>('select id from inbox where patient = $1', [patient]))[0]!.id;
    await query(`update inbox set received_at = now() - interval '16 minutes' where patient = $1`, [patient]);

    await service.handoffWatch.tick();
    const reminder = await waitFor(() => to(STAFF)[1], { what: 'the reminder' });
    expect(reminder.body).toMatch(/^Reminder, no reply after 15 min: A patient asked for a person: patient \+15556200060 \(SMS\)/);
    expect(reminder.body).toContain(`/staff/c/${inboxId}`);
    await service.handoffWatch.tick();
    await idle();
    expect(to(STAFF)).toHaveLength(2);
    // Taking over is not an answer: the reminders go on, one round per 15 minutes of waiting.
    const staff = await signedIn();
    await staff.request(`/staff/api/conversations/${inboxId}/take-over`, { method: 'POST' });
    await query(`update inbox set received_at = now() - interval '31 minutes' where patient = $1`, [patient]);
    await service.handoffWatch.tick();
    const second = await waitFor(() => to(STAFF).filter((m) => /^Reminder/.test(m.body))[1], { what: 'the second reminder' });
    expect(second.body).toMatch(/^Reminder, no reply after 30 min/);

    // Once a person replies, nobody is waiting: no more reminders.
    twilioApi.reset();
    await staff.request(`/staff/api/conversations/${inboxId}/reply`, { body: { body: 'Hello, Ana here.' } });
    await waitFor(() => to(patient).length === 1, { what: 'the staff reply' });
    await query(`update inbox set received_at = now() - interval '40 minutes' where patient = $1 and kind <> 'outgoing'`, [patient]);
    await service.handoffWatch.tick();
    await idle();
    expect(to(STAFF)).toHaveLength(0);
  });

  it('when an emergency has no staff action after HANDOFF_REMIND_MINUTES, then it is reminded as urgent', async () => {
    const patient = '+15556200065';
    await sms(patient, EMERGENCY);
    await waitFor(() => to(STAFF).length === 1, { what: 'the first alert' });
    await idle();
    await query(`update inbox set received_at = now() - interval '31 minutes' where patient = $1`, [patient]);
    await service.handoffWatch.tick();
    const reminder = await waitFor(() => to(STAFF)[1], { what: 'the reminder' });
    expect(reminder.body).toMatch(/^Reminder, no reply after 30 min: URGENT \(possible emergency\)/);
  });

  it('when a pause has had no staff action for HANDOFF_TIMEOUT_HOURS, then it ends and the patient is told the assistant is back', async () => {
    const patient = '+15556200070';
    await sms(patient, 'Can I speak to a human?');
    await waitFor(() => to(patient).length === 1, { what: 'the handoff reply' });
    await idle();
    await query(`update patient_state set paused_at = now() - interval '25 hours' where patient = $1`, [patient]);
    await service.handoffWatch.tick();
    const back = await waitFor(() => to(patient)[1], { what: 'the message that the assistant is back' });
    expect(back.body).toMatch(/assistant is answering your messages again/);
    await service.handoffWatch.tick();
    await idle();
    expect(to(patient)).toHaveLength(2);

    await sms(patient, 'What is IVF?');
    await waitFor(() => to(patient).length === 3, { what: 'the assistant answering' });
    const staff = await signedIn();
    const { id, state } = await conversationOf(staff, patient);
    expect(state).toBe('bot');
    const actions = (await staff.request(`/staff/api/conversations/${id}`)).json.messages.filter((m: any) => m.type === 'action');
    expect(actions.map((m: any) => [m.action, m.by])).toEqual([['timeout_resume', 'system']]);
  });

  it('lists the questions the documents did not answer, grouped, so the clinic knows what to write next', async () => {
    // Offline mode: a question no passage matches is not covered; one the documents answer is.
    await sms('+15556200090', 'Do you offer acupuncture?');
    await sms('+15556200091', 'acupuncture offered??');
    await sms('+15556200092', 'What is IVF?');
    await idle();
    const staff = await signedIn();
    const { groups } = (await staff.request('/staff/api/uncovered')).json as { groups: { count: number; keywords: string[]; questions: { text: string }[] }[] };
    const acupuncture = groups.find((group) => group.keywords.includes('acupuncture'));
    expect(acupuncture).toMatchObject({ count: 2 });
    expect(groups.flatMap((group) => group.questions.map((question) => question.text))).not.toContain('What is IVF?');
  });

  it('when the patient wrote in Spanish, then the end of the pause is told in Spanish', async () => {
    const patient = '+15556200072';
    await sms(patient, 'Hola, quiero hablar con una persona por favor');
    await waitFor(() => to(patient).length === 1, { what: 'the handoff reply' });
    await idle();
    await query(`update patient_state set paused_at = now() - interval '25 hours' where patient = $1`, [patient]);
    await service.handoffWatch.tick();
    const back = await waitFor(() => to(patient)[1], { what: 'the message that the assistant is back' });
    expect(back.body).toMatch(/^El asistente vuelve a responder/);
  });

  it('when a patient who asked for a person then opted out, then the end of the pause sends them nothing', async () => {
    const patient = '+15556200071';
    await sms(patient, 'Can I speak to a human?');
    await waitFor(() => to(patient).length === 1, { what: 'the handoff reply' });
    await idle();
    await sms(patient, 'STOP');
    await idle();
    await query(`update patient_state set paused_at = now() - interval '25 hours' where patient = $1`, [patient]);
    await service.handoffWatch.tick();
    await idle();
    expect(to(patient)).toHaveLength(1);
  });

  it('when a staff reply cannot be sent, then the conversation shows it failed and the patient is still waiting', async () => {
    const patient = '+15556200075';
    await sms(patient, 'I would like to talk to a person');
    await waitFor(() => to(patient).length === 1, { what: 'the handoff reply' });
    await idle();
    const staff = await signedIn();
    const { id } = await conversationOf(staff, patient);
    // Twilio refuses the number for good (21211: not a valid phone number), as it would a landline.
    twilioApi.failWith = (_attempt, address) => (address === patient ? { status: 400, code: 21211, message: 'Invalid To Phone Number' } : undefined);
    await staff.request(`/staff/api/conversations/${id}/reply`, { body: { body: 'Hello, this is Ana.' } });
    const detail = await waitFor(async () => {
      const { json } = await staff.request(`/staff/api/conversations/${id}`);
      return json.messages.find((m: any) => m.origin === 'staff' && m.status === 'failed') ? json : undefined;
    }, { what: 'the failed staff reply in the conversation' });
    expect(detail.messages.find((m: any) => m.origin === 'staff')).toMatchObject({ text: 'Hello, this is Ana.', by: STAFF, status: 'failed' });
    expect(detail).toMatchObject({ state: 'handoff', waitingSince: expect.any(String) });
    twilioApi.failWith = undefined;
  });

  it('when staff sign out, then that session no longer works and its live stream ends', async () => {
    const staff = await signedIn();
    expect((await staff.request('/staff/api/conversations')).status).toBe(200);
    const stolenCookie = staff.cookie;
    const stream = await fetch(`${service.url}/staff/api/events`, { headers: { cookie: stolenCookie! } });
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = stream.body!.getReader();
    let received = '';
    while (!received.includes('event: ready')) received += new TextDecoder().decode((await reader.read()).value);
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return true;
    })();
    expect((await staff.request('/staff/api/logout', { method: 'POST' })).status).toBe(204);
    expect(await ended).toBe(true);
    const thief = createStaffClient(service.url);
    thief.cookie = stolenCookie;
    expect((await thief.request('/staff/api/conversations')).status).toBe(401);
  });
});

describe('staff console API (WhatsApp Cloud API)', () => {
  const APP_SECRET = 'meta-app-secret-for-the-console';
  const PHONE_NUMBER_ID = '106540352242922';
  let graph: FakeGraphApi;
  let service: TestService;
  const text = (from: string, body: string) =>
    postMetaWebhook(service.url, metaTextPayload(from, body, PHONE_NUMBER_ID), { appSecret: APP_SECRET, opensWindowOn: graph });
  const to = (waId: string) => graph.messages.filter((message) => message.to === waId);

  beforeAll(async () => {
    graph = await startFakeGraphApi();
    service = await startTestService({
      META_ACCESS_TOKEN: graph.accessToken,
      META_APP_SECRET: APP_SECRET,
      META_GRAPH_API_URL: graph.baseURL,
      META_FOLLOWUP_TEMPLATE: 'clinic_follow_up:en_US',
      META_LOGIN_TEMPLATE: 'clinic_sign_in:en_US',
      STAFF_NUMBERS: STAFF,
    });
  });
  afterEach(async () => {
    await inboxDrained(service);
    graph.reset();
  });
  afterAll(async () => {
    await service?.stop();
    await graph?.close();
  });

  it('when a staff phone wrote on WhatsApp today, then its code comes back there; staff replies reach the patient through the Graph API', async () => {
    await text(STAFF.slice(1), '#help');
    await waitFor(() => to(STAFF.slice(1)).length === 1, { what: 'the help reply' });
    const patient = '15556200080';
    await text(patient, 'What is IVF?');
    await waitFor(() => to(patient).length === 1, { what: 'the answer' });
    await inboxDrained(service);

    const staff = createStaffClient(service.url);
    await staff.signIn(STAFF, async () => codeIn((await waitFor(() => to(STAFF.slice(1))[1], { what: 'the code on WhatsApp' })).body));
    const list = (await staff.request('/staff/api/conversations')).json as Conversation[];
    const conversation = list.find((c) => c.patient === patient)!;
    expect(conversation).toMatchObject({ channel: 'meta', state: 'bot' });
    const detail = (await staff.request(`/staff/api/conversations/${conversation.id}`)).json;
    expect(detail.window).toMatchObject({ applies: true, open: true });

    await staff.request(`/staff/api/conversations/${conversation.id}/reply`, { body: { body: 'Hello, this is the clinic team.' } });
    const sent = await waitFor(() => to(patient)[1], { what: 'the staff reply' });
    expect(sent).toMatchObject({ phoneNumberId: PHONE_NUMBER_ID, body: 'Hello, this is the clinic team.' });
  });

  it('when the window is closed, then the console offers the follow-up template, and sending it reaches the patient as a template', async () => {
    const patient = '15556200081';
    await text(patient, 'What is IVF?');
    await waitFor(() => to(patient).length === 1, { what: 'the answer' });
    await inboxDrained(service);
    await (service.db as PgliteDatabase).query(`update inbox set received_at = now() - interval '2 days' where patient = $1`, [patient]);
    // The staff phone has not written for days either: its code goes as the approved sign-in template.
    await (service.db as PgliteDatabase).query(`update inbox set received_at = now() - interval '2 days' where patient = $1`, [STAFF.slice(1)]);

    const staff = createStaffClient(service.url);
    await staff.signIn(STAFF, async () => {
      const template = await waitFor(() => graph.templates.find((t) => t.to === STAFF.slice(1)), { what: 'the sign-in template' });
      expect(template.name).toBe('clinic_sign_in');
      return JSON.stringify(template.components).match(/\d{6}/)![0];
    });
    const { id } = ((await staff.request('/staff/api/conversations')).json as Conversation[]).find((c) => c.patient === patient)!;
    const detail = (await staff.request(`/staff/api/conversations/${id}`)).json;
    expect(detail).toMatchObject({ window: { applies: true, open: false }, followUpTemplate: 'clinic_follow_up:en_US' });
    expect((await staff.request(`/staff/api/conversations/${id}/reply`, { body: { body: 'Hello' } })).status).toBe(409);
    expect((await staff.request(`/staff/api/conversations/${id}/template`, { method: 'POST' })).status).toBe(202);
    const template = await waitFor(() => graph.templates.find((t) => t.to === patient), { what: 'the follow-up template' });
    expect(template.name).toBe('clinic_follow_up');
    const after = (await staff.request(`/staff/api/conversations/${id}`)).json;
    expect(after.messages.filter((m: any) => m.type === 'action').map((m: any) => m.action)).toEqual(['template']);
  });
});

describe('staff console in local mode (no channel credentials)', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ STAFF_NUMBERS: STAFF, PUBLIC_URL: 'https://clinic.example.org' });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('the code is recorded where `npm run chat -- --staff` shows it, and the cookie is Secure behind https', async () => {
    const staff = createStaffClient(service.url);
    const verify = await staff.signIn(STAFF, async () => {
      const outbox = `${service.url}/dev/outbox?${new URLSearchParams({ patient: STAFF, business: '+15550100000' })}`;
      const code = await waitFor(async () => ((await (await fetch(outbox)).json()) as { replies: { body: string }[] }).replies.at(-1), { what: 'the code in the outbox' });
      return codeIn(code.body);
    });
    expect(verify.setCookie).toMatch(/; Secure$/);
  });

  it('GET /staff serves the page with a strict Content-Security-Policy, and deep links to a conversation serve the same page', async () => {
    for (const path of ['/staff', '/staff/c/42', '/staff/uncovered']) {
      const response = await fetch(`${service.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/text\/html/);
      expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
      expect(await response.text()).toMatch(/<script src="\/staff\/console.js" defer>/);
    }
  });
});
