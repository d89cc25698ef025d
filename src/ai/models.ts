/** The two things the pipeline asks of a model provider. */
export type Embedder = {
  embed(texts: string[]): Promise<number[][]>;
};

export type ChatMessage = { role: 'system' | 'user' | 'assistant'; content: string };

export type ChatModel = {
  complete(messages: ChatMessage[], options?: { maxTokens?: number }): Promise<string>;
};
