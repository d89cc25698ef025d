/** The clinic number patients text, and who writes what: the same in every scenario. */
export const CLINIC_NUMBER = '+15550100000';

const QUESTIONS = [
  'What is IVF?',
  'When do I start my injections?',
  'What happens at egg retrieval?',
  'Is spotting normal after my embryo transfer?',
  'How much does a cycle cost?',
  'What are the warning signs of OHSS?',
  'When can I take a pregnancy test?',
  'What time does the clinic open?',
];

/** Patient `index` as an E.164 number: +1555 and seven digits. */
export function patientNumber(index: number): string {
  return `+1555${String(2_000_000 + index).padStart(7, '0')}`;
}

export function question(index: number): string {
  return QUESTIONS[index % QUESTIONS.length]!;
}

/** Follow-ups that only make sense after the question before them: the service rewrites these. */
const FOLLOW_UPS = ['Does it hurt?', 'How long does that take?', 'Is it safe?', 'And what does it cost?'];

export function followUp(index: number): string {
  return FOLLOW_UPS[index % FOLLOW_UPS.length]!;
}
