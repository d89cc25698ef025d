/**
 * The made-up numbers of local mode (no Twilio credentials): `npm run chat` texts this clinic number,
 * and a staff sign-in code for a phone that has never written is recorded on that conversation, where
 * `npm run chat -- --staff` shows it. Nothing is ever sent to them.
 */
export const LOCAL_CLINIC_NUMBER = '+15550100000';
export const LOCAL_PATIENT_NUMBER = '+15551234567';
