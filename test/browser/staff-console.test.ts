import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFakeTwilio, type FakeTwilio } from '../fakes/fake-twilio.ts';
import { waitFor } from '../fakes/wait-for.ts';
import { closedPort } from '../support/closed-port.ts';
import { twilioEnv } from '../support/fake-env.ts';
import { inboxDrained } from '../support/inbox-drained.ts';
import { codeIn } from '../support/staff-client.ts';
import { startTestService, type TestService } from '../support/start-test-service.ts';
import { postTwilioWebhook } from '../support/twilio-webhook-client.ts';

// Debian's chromium (.ci/run installs it); CHROMIUM_PATH for another build. Without one, skipped.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Screenshots go to a temporary folder; SCREENSHOT_DIR=docs/screenshots refreshes the README's.
const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? join(tmpdir(), 'clinic-assistant-screenshots');

const CLINIC_SMS = '+15557654321';
const STAFF = '+15550004441';
const ALERT_SMS_FROM = '+15550009998';
const QUIET_PATIENT = '+15556300001';
const URGENT_PATIENT = '+15556300002';
const EMERGENCY = 'I am bleeding very heavily and feel faint <b>please</b> help';

describe.skipIf(!existsSync(CHROMIUM))(`the staff console in a real browser (${CHROMIUM})`, () => {
  let twilioApi: FakeTwilio;
  let service: TestService;
  let browser: Browser;
  const sms = (from: string, body: string) => postTwilioWebhook(service.url, { From: from, To: CLINIC_SMS, Body: body }, { authToken: twilioApi.authToken });
  const to = (address: string) => twilioApi.messages.filter((message) => message.to === address);

  async function signIn(page: Page): Promise<void> {
    await page.goto(`${service.url}/staff`);
    await page.getByLabel('Your staff phone number').fill(STAFF);
    const before = to(STAFF).length;
    await page.getByRole('button', { name: 'Send me a code' }).click();
    const message = await waitFor(() => to(STAFF)[before], { what: 'the sign-in code' });
    await page.getByLabel('Six-digit code').fill(codeIn(message.body));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Conversations' }).waitFor();
  }

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    twilioApi = await startFakeTwilio();
    twilioApi.reportDelivery = true;
    const port = await closedPort();
    service = await startTestService({
      ...twilioEnv(twilioApi),
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      STAFF_NUMBERS: STAFF,
      STAFF_ALERT_SMS_FROM: ALERT_SMS_FROM,
      CLINIC_NAME: 'Hope Fertility',
    });
    await sms(QUIET_PATIENT, 'What is IVF?');
    await inboxDrained(service);
    await sms(URGENT_PATIENT, EMERGENCY);
    await inboxDrained(service);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    await twilioApi?.close();
  });

  it('works on a phone-sized screen: the list, then the conversation with a way back', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await signIn(page);
    const rows = page.locator('#conversation-list a.row');
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(2);
    await page.screenshot({ path: join(SCREENSHOTS, 'list-phone.png') });
    await rows.first().tap();
    await page.getByRole('button', { name: '← All conversations' }).waitFor();
    expect(await page.locator('#list-pane').isVisible()).toBe(false);
    await page.screenshot({ path: join(SCREENSHOTS, 'conversation-phone.png') });
    await page.getByRole('button', { name: '← All conversations' }).tap();
    await expect.poll(() => page.locator('#list-pane').isVisible()).toBe(true);
    await context.close();
  });

  it('signs in, shows the emergency on top, opens it, replies, and sees the reply and a new message appear without reloading', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${service.url}/staff`);
    await page.screenshot({ path: join(SCREENSHOTS, 'sign-in.png') });
    await signIn(page);

    const rows = page.locator('#conversation-list a.row');
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(2);
    await expect.poll(() => rows.first().getAttribute('data-state')).toBe('emergency');
    expect(await rows.first().locator('.who').textContent()).toBe(URGENT_PATIENT);
    expect(await rows.first().textContent()).toMatch(/waiting/);

    await rows.first().click();
    await page.waitForURL(/\/staff\/c\/\d+$/);
    const messages = page.locator('#messages');
    // The patient's words are shown as they were written: the markup is text, not a bold element.
    await expect.poll(() => messages.locator('li[data-type="in"] .text').first().textContent()).toBe(EMERGENCY);
    expect(await messages.locator('b').count()).toBe(0);
    await expect.poll(() => messages.locator('li[data-type="out"]').first().textContent()).toMatch(/fixed reply/);
    await page.screenshot({ path: join(SCREENSHOTS, 'emergency-desktop.png') });

    await page.getByLabel('Reply to the patient').fill('This is Ana at the clinic. I am calling you now.');
    await page.getByRole('button', { name: 'Send reply' }).click();
    // Sent by the worker, then delivered: the page hears both through its live stream.
    await expect.poll(() => messages.locator('li.out.staff').count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => messages.locator('li.out.staff').getAttribute('data-status'), { timeout: 10_000 }).toBe('delivered');
    expect(await messages.locator('li.out.staff .meta').textContent()).toContain(`staff reply by ${STAFF}`);
    expect(to(URGENT_PATIENT).at(-1)!.body).toBe('This is Ana at the clinic. I am calling you now.');
    // The reply paused the assistant: the page offers to hand back.
    await expect.poll(() => page.getByRole('button', { name: 'Hand back to the assistant' }).isVisible()).toBe(true);

    await sms(URGENT_PATIENT, 'Thank you, my phone is on');
    await expect.poll(() => messages.locator('li[data-type="in"] .text').last().textContent(), { timeout: 10_000 }).toBe('Thank you, my phone is on');
    await page.screenshot({ path: join(SCREENSHOTS, 'replied-desktop.png') });
    await context.close();
  });
});
