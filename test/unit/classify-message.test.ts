import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { classifyMessage } from '../../src/safety/classify-message.ts';
import { loadSafetyPhrases } from '../../src/safety/load-safety-phrases.ts';

const phrases = loadSafetyPhrases(fileURLToPath(new URL('../../config/safety-phrases.json', import.meta.url)));
const kind = (text: string) => classifyMessage(text, phrases).kind;

describe('classifyMessage with the shipped config/safety-phrases.json', () => {
  it.each([
    "I'm having heavy bleeding since this morning",
    'severe abdominal pain after egg retrieval',
    "my belly is very swollen and I can't breathe properly",
    'I fainted in the bathroom',
    'I have a fever of 38.6',
    'chest pain and short of breath',
    'Tengo sangrado abundante',
    'no puedo respirar bien',
    'I have HEAVY BLEEDING, is that normal?',
    "there's a lot of blood and I can't stop bleeding",
    'my temperature is 39.2',
    'tengo mucha sangre',
  ])('raises the alarm for %j', (text) => {
    expect(classifyMessage(text, phrases)).toMatchObject({ kind: 'emergency', category: 'medical' });
  });

  it.each(["I want to end my life", 'sometimes I feel like killing myself', 'ya no quiero vivir'])('treats %j as a self-harm emergency', (text) => {
    expect(classifyMessage(text, phrases)).toMatchObject({ kind: 'emergency', category: 'self_harm' });
  });

  it.each([
    'Is bleeding after transfer normal?',
    'Is some spotting normal during the two-week wait?',
    'How much pain is normal after egg retrieval?',
    'Can I take paracetamol for a headache?',
    '¿Es normal tener un poco de sangrado?',
  ])('answers %j from the documents, with a nudge, without an alarm', (text) => {
    expect(kind(text)).toBe('symptom_question');
  });

  it.each([
    'What is IVF?',
    'When do I start my injections?',
    'How much does a cycle cost?',
    'Is human growth hormone used in IVF?',
    'Can my partner be in the room at transfer?',
    'My embryologist said the blastocyst collapsed before freezing, is that bad?',
    'Are you a real person?',
  ])(
    'treats %j as an ordinary question',
    (text) => {
      expect(kind(text)).toBe('question');
    },
  );

  it.each(['talk to a person', 'Can I speak to someone please?', 'human', 'Agent!', 'HUMAN please', 'quiero hablar con una persona', 'humano'])('hands %j to a person', (text) => {
    expect(kind(text)).toBe('handoff');
  });

  it.each(['STOP', 'stop', 'Unsubscribe', 'cancel', 'END', 'quit.'])('opts out on %j', (text) => {
    expect(kind(text)).toBe('opt_out');
  });

  it.each(['START', 'start', 'Unstop'])('opts in on %j', (text) => {
    expect(kind(text)).toBe('opt_in');
  });

  it('does not opt out when the word is part of a sentence', () => {
    expect(kind('When do I stop the injections?')).toBe('question');
    expect(kind('Can I cancel my appointment?')).toBe('question');
  });
});

describe('the recogniser reads meaning, not exact phrases', () => {
  it.each([
    ['severity after the symptom', 'the cramps on my left side are honestly unbearable'],
    ['a misspelling', 'im bleading realy hevily'],
    ['a slip on a long word', 'the pain is excrutiating'],
    ['letters held down', 'sooo much bloood everywhere'],
    ['a decimal comma and a unit', 'tengo 38,4°C'],
    ['Fahrenheit without a unit', 'temp is 101.2 and shivering'],
    ['"and a half" in Spanish', 'mi temperatura es 38 y medio'],
    ['weight gain per day', 'put on 2.5 lbs overnight and feel puffy'],
    ['a Spanish inflection', 'creo que me voy a desmayar'],
    ['a sign that needs no severity word', 'my lips are swelling up after the injection'],
    ['two signs in different sentences', 'I had a positive test on Monday. Now there is a stabbing pain on my right side'],
  ])('raises the alarm for %s', (_what, text) => {
    expect(kind(text)).toBe('emergency');
  });

  it.each([
    ['a negated severity', 'no heavy bleeding, just a bit of brown spotting'],
    ['a hypothetical', 'what should I do if the bleeding gets heavy?'],
    ['a general question', 'is severe cramping common after egg retrieval?'],
    ['a temperature under the line', 'my temp is 37.6, is that ok?'],
    ['a weight gain with no time span', 'my weight went up 3 kg since starting stims'],
  ])('answers %s as a symptom question, with the nudge', (_what, text) => {
    expect(kind(text)).toBe('symptom_question');
  });

  it.each(['my beta hCG came back 38.6, is that good?', "I'm dying to know my results", 'this wait is killing me', 'I could kill for a coffee', 'faint line on the test this morning!', 'me muero de ganas de saber el resultado', 'when is my blood test?'])(
    'raises no alarm for the idiom, IVF word or lab value in %j',
    (text) => {
      expect(kind(text)).not.toBe('emergency');
    },
  );

  it('when an exception resembles a red flag word, then the red flag still counts (exceptions match exactly)', () => {
    expect(classifyMessage('ya no aguanto más, quiero desaparecer', phrases)).toMatchObject({ kind: 'emergency', category: 'self_harm' });
  });

  it('when "yes" is the whole message, then it is an opt-in keyword that the responder honours only after a STOP', () => {
    expect(classifyMessage('YES', phrases)).toEqual({ kind: 'opt_in', keyword: 'yes' });
  });
});

describe('loadSafetyPhrases with a broken file', () => {
  const write = (content: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'clinic-rules-'));
    const path = join(dir, 'safety-phrases.json');
    writeFileSync(path, content);
    return path;
  };
  const shipped = readFileSync(fileURLToPath(new URL('../../config/safety-phrases.json', import.meta.url)), 'utf8');

  it('when the file is not JSON, then the start stops naming the file', () => {
    const path = write('{ "emergency": [');
    expect(() => loadSafetyPhrases(path)).toThrow(`SAFETY_PHRASES_FILE ${path} could not be read as JSON`);
  });

  it('when a rule names a list that does not exist, then the start stops naming the rule and the list', () => {
    const rules = JSON.parse(shipped);
    rules.combinations[0].near = ['@bleeding', '@severty'];
    const path = write(JSON.stringify(rules));
    expect(() => loadSafetyPhrases(path)).toThrow('no such list combinations[0].near: @severty');
  });

  it('when a list is empty, then the start stops naming the field', () => {
    const rules = JSON.parse(shipped);
    rules.redFlags.selfHarm = [];
    expect(() => loadSafetyPhrases(write(JSON.stringify(rules)))).toThrow(/redFlags\.selfHarm: /);
  });
});
