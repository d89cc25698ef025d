/** The two things the pipeline asks of a model provider. */
export type Embedder = {
  embed(texts: string[]): Promise<number[][]>;
};

export type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

export type ChatModel = {
  complete(messages: ChatMessage[], options?: { maxTokens?: number }): Promise<string>;
};

/** The model's second opinion on a message the rules did not alarm. */
export type TriageVerdict = 'emergency' | 'self_harm' | 'none';

export type TriageModel = {
  assess(message: string): Promise<TriageVerdict>;
};

/** Speech to text: a voice note's audio (in memory) as the words it says. */
export type Transcriber = {
  transcribe(audio: { bytes: Uint8Array; contentType: string }): Promise<string>;
};
