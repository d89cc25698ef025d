/**
 * The exact text embedded for a chunk: the document's title and heading path give a short passage
 * the context it lacks on its own ("Fasting" under "Egg retrieval › Before the procedure"). A chunk's
 * content hash is taken over this text, so equal hashes mean equal embeddings.
 */
export function embeddingInput(chunk: { title: string; heading: string; content: string }): string {
  return chunk.heading ? `${chunk.title}\n${chunk.heading}\n\n${chunk.content}` : `${chunk.title}\n\n${chunk.content}`;
}
