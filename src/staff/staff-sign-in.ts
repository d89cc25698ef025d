import { createHash, randomBytes, randomInt } from 'node:crypto';

import { canonicalPhoneNumber, phoneNumberMatcher } from '../channels/canonical-phone-number.ts';
import { maskAddress, type Logger } from '../logger.ts';
import type { StaffStore } from './staff-store.ts';

/** How sign-in resists guessing: codes live 5 minutes and die after 5 wrong tries; requests are limited per number and per client. */
export const SIGN_IN_LIMITS = {
  codeTtlSeconds: 5 * 60,
  maxWrongTries: 5,
  /** Wrong codes a staff number may get in a day, across codes: a new code buys no new guesses. */
  maxDailyFailures: 10,
  windowSeconds: 15 * 60,
  perNumber: 5,
  perClient: 20,
};

export type StaffSession = { staffNumber: string; csrfToken: string; expiresAt: string };

const E164 = /^\+[1-9]\d{6,14}$/;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** "+1 (555) 123-4567" → "+15551234567"; undefined when it is not a phone number. */
export function normalisePhone(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  const bare = input.replace(/[\s().-]/g, '');
  return E164.test(bare) ? bare : undefined;
}

/**
 * One-time codes to staff phones, and the sessions they open. Only hashes are stored: of the code, of
 * the session token, and of the numbers and client addresses counted by the rate limits. Whoever asks,
 * staff or not, gets the same answer at the same speed (the code is sent after the answer).
 */
export function createStaffSignIn(deps: {
  store: StaffStore;
  staffNumbers: string[];
  sessionHours: number;
  deliverCode: (staffNumber: string, code: string) => Promise<void>;
  logger: Logger;
}) {
  // The number typed may be another spelling of a staff phone (+521… for +52…): it is matched in the
  // canonical form, and from then on the STAFF_NUMBERS entry is the one used, stored and sent to.
  const staffNumberOf = phoneNumberMatcher(deps.staffNumbers);
  const codeHash = (phone: string, code: string) => sha256(`sign-in-code:${phone}:${code}`);

  return {
    /** Counts the request; sends a code if the number is staff. `allowed: false` when over a limit. */
    async requestCode(phone: string, client: string): Promise<{ allowed: boolean; retryAfterSeconds?: number }> {
      const staffNumber = staffNumberOf(phone);
      const code = staffNumber ? String(randomInt(0, 1_000_000)).padStart(6, '0') : undefined;
      const result = await deps.store.loginRequest({
        // Counted per phone, not per spelling: another spelling is no way round the limit.
        numberHash: sha256(`sign-in-number:${canonicalPhoneNumber(phone)}`),
        clientHash: sha256(`sign-in-client:${client}`),
        staffNumber: staffNumber ?? null,
        codeHash: staffNumber && code ? codeHash(staffNumber, code) : null,
        codeTtlSeconds: SIGN_IN_LIMITS.codeTtlSeconds,
        numberLimit: SIGN_IN_LIMITS.perNumber,
        clientLimit: SIGN_IN_LIMITS.perClient,
        windowSeconds: SIGN_IN_LIMITS.windowSeconds,
      });
      if (result.allowed && staffNumber && code) {
        deps.deliverCode(staffNumber, code).catch((error: unknown) =>
          deps.logger.error({ err: error, staff: maskAddress(staffNumber) }, 'could not send a staff sign-in code'),
        );
      }
      return result;
    },

    /** A session for a right code (spent by it), or undefined for any wrong, expired, used or locked code. */
    async verify(phone: string, code: string): Promise<(StaffSession & { token: string }) | undefined> {
      const staffNumber = staffNumberOf(phone);
      if (!/^\d{6}$/.test(code) || !staffNumber) return undefined;
      const token = randomBytes(32).toString('base64url');
      const csrfToken = randomBytes(24).toString('base64url');
      const result = await deps.store.loginVerify({
        staffNumber,
        codeHash: codeHash(staffNumber, code),
        tokenHash: sha256(token),
        csrfToken,
        sessionHours: deps.sessionHours,
        maxTries: SIGN_IN_LIMITS.maxWrongTries,
        maxDailyFailures: SIGN_IN_LIMITS.maxDailyFailures,
      });
      if (result.locked) {
        deps.logger.error({ staff: maskAddress(staffNumber) }, `sign-in locked for a day: ${SIGN_IN_LIMITS.maxDailyFailures} wrong codes for this staff phone (someone may be guessing)`);
      }
      if (!result.ok || !result.expiresAt) return undefined;
      deps.logger.info({ staff: maskAddress(staffNumber) }, 'staff signed in');
      return { token, csrfToken, staffNumber, expiresAt: result.expiresAt };
    },

    /** The session of a token; none once its number is no longer in STAFF_NUMBERS, whatever the session says. */
    async session(token: string): Promise<StaffSession | undefined> {
      const session = await deps.store.session(sha256(token));
      return session && staffNumberOf(session.staffNumber) ? session : undefined;
    },

    async signOut(token: string): Promise<void> {
      await deps.store.revokeSession(sha256(token));
    },
  };
}

export type StaffSignIn = ReturnType<typeof createStaffSignIn>;
