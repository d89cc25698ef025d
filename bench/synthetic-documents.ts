import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const WORDS = (
  'embryo transfer retrieval follicle ovary stimulation injection medication dose clinic nurse doctor ' +
  'appointment scan ultrasound blood test hormone estradiol progesterone cycle protocol laboratory ' +
  'fertilisation culture blastocyst freezing thawing pregnancy result waiting period support partner ' +
  'consent payment insurance pharmacy morning evening fasting anaesthesia recovery rest bleeding pain ' +
  'symptom warning call emergency number weekend holiday schedule timing trigger sperm sample donor'
).split(' ');

/** A small deterministic random number generator (mulberry32), so that every run writes the same text. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Markdown documents that chunk into `chunks` chunks: 20 sections a document, each one paragraph of
 * about 230 tokens, under the chunker's 300 (one chunk a section, no two of them fit together).
 */
export async function writeSyntheticDocuments(directory: string, chunks: number): Promise<void> {
  const next = random(42);
  const sectionsPerDocument = 20;
  await mkdir(directory, { recursive: true });
  for (let document = 0; document * sectionsPerDocument < chunks; document++) {
    const sections = Math.min(sectionsPerDocument, chunks - document * sectionsPerDocument);
    const lines = [`# Treatment guide ${document + 1}`, ''];
    for (let section = 0; section < sections; section++) {
      const sentences = Array.from({ length: 12 }, () => {
        const words = Array.from({ length: 15 }, () => WORDS[Math.floor(next() * WORDS.length)]!);
        return `${words.join(' ')}.`;
      });
      lines.push(`## Part ${section + 1}`, '', `Guide ${document + 1}, part ${section + 1}: ${sentences.join(' ')}`, '');
    }
    await writeFile(join(directory, `guide-${String(document + 1).padStart(3, '0')}.md`), lines.join('\n'));
  }
}
