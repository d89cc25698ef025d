export type Question = { id: number; conversationId: number; at: string; text: string };
export type QuestionGroup = { count: number; example: string; keywords: string[]; questions: Question[] };

// Words that say nothing about the topic, in the languages patients write in most.
const STOPWORDS = new Set(
  (
    'the a an and or but if of to in on at for with from by about is are was were be been am do does did have has had can could ' +
    'will would should may might must i me my we our you your it its this that these those there what when where which who how why ' +
    'not no yes please thanks thank hi hello dear just so very much many any some get got need want know tell ' +
    'el la los las un una unos unas y o pero si de del al en con por para sobre es son fue ser estar esta este esto ' +
    'que como cuando donde cual quien por porque no mi mis tu tus su sus yo me te se lo le nos hay tengo puedo quiero saber gracias hola'
  ).split(' '),
);

/** The topic words of a question: lower case, no accents, no stopwords, plural and -ing endings cut. */
export function topicWords(text: string): Set<string> {
  const words = text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .match(/\p{L}[\p{L}\d]*/gu) ?? [];
  return new Set(
    words
      .filter((word) => word.length >= 3 && !STOPWORDS.has(word))
      .map((word) => word.replace(/(ing|ed|es|s)$/, '') || word),
  );
}

function similarity(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let shared = 0;
  for (const word of a) if (b.has(word)) shared++;
  // Overlap against the smaller set: "cost of ICSI?" belongs with "how much does ICSI cost at your clinic".
  return shared / Math.min(a.size, b.size);
}

/**
 * Groups questions about the same thing, so the clinic sees what to write next and how often it is
 * asked: each question joins the first group whose topic words it shares most of (at least
 * `threshold`), else starts one. Word overlap, not meaning: "price" and "cost" stay apart. Groups
 * largest first; the example is the group's most recent question.
 */
export function groupQuestions(questions: Question[], threshold = 0.6): QuestionGroup[] {
  const groups: { words: Set<string>; counts: Map<string, number>; questions: Question[] }[] = [];
  for (const question of questions) {
    const words = topicWords(question.text);
    let best: (typeof groups)[number] | undefined;
    let bestScore = 0;
    for (const group of groups) {
      const score = similarity(words, group.words);
      if (score > bestScore) [best, bestScore] = [group, score];
    }
    if (best && bestScore >= threshold) {
      best.questions.push(question);
      for (const word of words) best.counts.set(word, (best.counts.get(word) ?? 0) + 1);
    } else {
      groups.push({ words, counts: new Map([...words].map((word) => [word, 1])), questions: [question] });
    }
  }
  return groups
    .map((group) => ({
      count: group.questions.length,
      example: group.questions[0]!.text,
      keywords: [...group.counts].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([word]) => word),
      questions: group.questions,
    }))
    .sort((a, b) => b.count - a.count);
}
