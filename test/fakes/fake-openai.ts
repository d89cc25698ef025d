import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';

import { closeServer, createSleeper, listenOnLoopback, readBodyBytes } from './fake-server.ts';

export type FakeOpenAICall = { path: string; body: any; startedAt: number; endedAt?: number; status?: number };

export type FakeOpenAI = {
  /** e.g. http://127.0.0.1:PORT/v1 — pass as `baseURL` to new OpenAI() */
  baseURL: string;
  /** every request, in arrival order */
  calls: FakeOpenAICall[];
  /** requests currently being handled */
  inFlight: number;
  /** the most in flight at once since start/reset */
  maxInFlight: number;
  /** ms, mutable, default 0; `triage` applies to triage requests instead of `chat` when set */
  latency: { embeddings: number; chat: number; triage?: number };
  /**
   * Decide a failure per call: return an HTTP status (e.g. 500, 429) to fail it, 0 to destroy
   * the socket without answering, or undefined to answer normally. Called once the body is read.
   */
  failWith: ((call: FakeOpenAICall) => number | undefined) | undefined;
  /** if set, awaited before a request is answered (after its latency): a test holds an answer until it has done something */
  gate: ((call: FakeOpenAICall) => Promise<void> | undefined) | undefined;
  /** if set, 429 answers carry a Retry-After header */
  retryAfterSeconds: number | undefined;
  /** computes the assistant message content from the chat request body */
  chatReply: (body: any) => string;
  /**
   * answers the service's triage requests (structured output named "triage"): a JSON string such as
   * '{"category":"not_urgent"}'. Apart from chatReply, so that tests that replace the answers keep a
   * sane triage. Default: not_urgent.
   */
  triageReply: (body: any) => string;
  /**
   * answers POST /v1/audio/transcriptions (multipart: model, file): the transcript of `audio`, the
   * uploaded file's bytes. Default: the text after "spoken:" in the file (test/support/make-ogg-opus.ts
   * writes it there), else ''. The call's `body` records { model, response_format, file: { filename,
   * contentType, size } }, never the bytes.
   */
  transcriptionReply: (audio: Buffer, body: any) => string;
  /** clears calls, maxInFlight, failWith, gate, retryAfterSeconds; latency to 0; chatReply, triageReply and transcriptionReply to default */
  reset(): void;
  close(): Promise<void>;
  /** emitted when a request finishes (answered, socket destroyed, or aborted by the client) */
  on(event: 'call', listener: (call: FakeOpenAICall) => void): void;
};

// ---------------------------------------------------------------------------------------------
// Deterministic "hashed bag of words" embedding
// ---------------------------------------------------------------------------------------------

const STOPWORDS = new Set([
  'the', 'and', 'for', 'are', 'but', 'not', 'you', 'your', 'yours', 'with', 'this', 'that', 'these',
  'those', 'from', 'have', 'has', 'had', 'was', 'were', 'what', 'when', 'where', 'which', 'who',
  'whom', 'why', 'how', 'can', 'will', 'would', 'should', 'could', 'our', 'ours', 'out', 'all',
  'any', 'there', 'their', 'they', 'them', 'then', 'than', 'into', 'about', 'its', 'also', 'been',
  'being', 'does', 'did', 'doing', 'she', 'her', 'hers', 'him', 'his', 'its', 'own', 'too', 'very',
  'just', 'may', 'might', 'must', 'shall', 'over', 'under', 'again', 'once', 'here', 'some', 'such',
  'only', 'same', 'other', 'each', 'both', 'few', 'more', 'most', 'off', 'per', 'via', 'yes',
]);

const textEncoder = new TextEncoder();

/** "stopp" -> "stop", "transferr" -> "transfer" (but keep "call", "press", "buzz"). */
function undouble(stemmed: string): string {
  return /([b-df-hj-km-np-rtv-y])\1$/.test(stemmed) && stemmed.length > 3 ? stemmed.slice(0, -1) : stemmed;
}

function stem(word: string): string {
  const len = (s: string) => [...s].length;
  if (word.endsWith('ing') && len(word) - 3 >= 3) return undouble(word.slice(0, -3));
  if (word.endsWith('ies') && len(word) - 3 >= 3) return word.slice(0, -3) + 'y';
  if (word.endsWith('ed') && len(word) - 2 >= 3) return undouble(word.slice(0, -2));
  if (/(?:s|x|z|ch|sh)es$/.test(word) && len(word) - 2 >= 3) return word.slice(0, -2);
  if (word.endsWith('s') && !/[siu]s$/.test(word) && len(word) - 1 >= 3) return word.slice(0, -1);
  return word;
}

/** The words fakeEmbedding hashes (exported for debugging tests). */
export function fakeEmbeddingTerms(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if ([...raw].length < 3 || STOPWORDS.has(raw)) continue;
    out.push(stem(raw));
  }
  return out;
}

function fnv1a(word: string): number {
  let hash = 0x811c9dc5;
  for (const byte of textEncoder.encode(word)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Deterministic embedding: lowercase, split on non-letters/digits, drop words under 3 letters and
 * stopwords, crude stemming, FNV-1a hash each word into a bucket, count, L2-normalise.
 * Texts sharing words are close in cosine distance.
 */
export function fakeEmbedding(text: string, dimensions = 1536): number[] {
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new Error(`invalid dimensions: ${dimensions}`);
  const vector = new Array<number>(dimensions).fill(0);
  for (const term of fakeEmbeddingTerms(text)) vector[fnv1a(term) % dimensions]! += 1;
  let norm = 0;
  for (const v of vector) norm += v * v;
  if (norm === 0) {
    vector[0] = 1;
    return vector;
  }
  norm = Math.sqrt(norm);
  return vector.map((v) => v / norm);
}

function toBase64Float32(vector: number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

export const DEFAULT_NO_DOCUMENT_REPLY = "I'm sorry, the clinic's documents do not cover that. Please call the clinic.";

function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (part && typeof part === 'object' && typeof (part as any).text === 'string' ? (part as any).text : ''))
      .join('\n');
  }
  return '';
}

/** True for the service's query-rewrite request (its system prompt asks for a standalone query). */
export function isRewriteRequest(body: any): boolean {
  const first = Array.isArray(body?.messages) ? body.messages[0] : undefined;
  return first?.role === 'system' && /standalone search query/.test(messageText(first.content));
}

/** True for the service's triage request: structured output (response_format json_schema) named "triage". */
export function isTriageRequest(body: any): boolean {
  return body?.response_format?.type === 'json_schema' && body.response_format.json_schema?.name === 'triage';
}

/** A chat request that answers a patient (not a rewrite, not a triage). */
export function isAnswerRequest(body: any): boolean {
  return !isRewriteRequest(body) && !isTriageRequest(body);
}

export const DEFAULT_TRIAGE_REPLY = '{"category":"not_urgent"}';

/** The patient's message in the last <patient_message> block of a request. */
export function lastPatientMessage(body: any): string {
  const messages: unknown[] = Array.isArray(body?.messages) ? body.messages : [];
  const last = messageText((messages.at(-1) as any)?.content);
  return /<patient_message>\n?([\s\S]*?)\n?<\/patient_message>/.exec(last)?.[1] ?? '';
}

/**
 * Begins every answer the fake model generates, so that a test can tell a generated answer from the
 * service's fallback (which quotes the best passage as `From "<title>": …`, as the fake does): no
 * document and no fallback contains it.
 */
export const GENERATED_MARK = '[fake model] ';

/**
 * Answers a rewrite request with the message unchanged (a perfect rewriter of standalone questions),
 * and a question by quoting the first document it was given, after GENERATED_MARK.
 */
export function defaultChatReply(body: any): string {
  if (isRewriteRequest(body)) return lastPatientMessage(body);
  const messages: unknown[] = Array.isArray(body?.messages) ? body.messages : [];
  const all = messages.map((m) => messageText((m as any)?.content)).join('\n');
  const match = /<document\s+title="([^"]*)"[^>]*>([\s\S]*?)<\/document>/.exec(all);
  if (!match) return `${GENERATED_MARK}${DEFAULT_NO_DOCUMENT_REPLY}`;
  return `${GENERATED_MARK}From "${match[1]}": ${match[2]!.trim().slice(0, 300)}`;
}

function approxTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

const ERROR_KINDS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Bad request' },
  401: { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory', message: 'Forbidden' },
  404: { type: 'invalid_request_error', code: 'unknown_url', message: 'Not found' },
  429: { type: 'requests', code: 'rate_limit_exceeded', message: 'Rate limit reached (fake).' },
  500: { type: 'server_error', code: null, message: 'The server had an error while processing your request (fake).' },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded (fake).' },
};

function errorBody(status: number, message?: string, param: string | null = null) {
  const kind = ERROR_KINDS[status] ?? {
    type: status >= 500 ? 'server_error' : 'invalid_request_error',
    code: null,
    message: `Fake error ${status}`,
  };
  return { error: { message: message ?? kind.message, type: kind.type, param, code: kind.code } };
}

class BadRequest extends Error {
  constructor(message: string, readonly param: string | null = null) {
    super(message);
  }
}

class FakeOpenAIServer extends EventEmitter implements FakeOpenAI {
  baseURL = '';
  calls: FakeOpenAICall[] = [];
  inFlight = 0;
  maxInFlight = 0;
  latency: FakeOpenAI['latency'] = { embeddings: 0, chat: 0 };
  failWith: ((call: FakeOpenAICall) => number | undefined) | undefined = undefined;
  gate: FakeOpenAI['gate'] = undefined;
  retryAfterSeconds: number | undefined = undefined;
  chatReply: (body: any) => string = defaultChatReply;
  triageReply: (body: any) => string = () => DEFAULT_TRIAGE_REPLY;
  transcriptionReply: (audio: Buffer, body: any) => string = defaultTranscription;

  readonly server: Server;
  private readonly sleeper = createSleeper();

  constructor() {
    super();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify(errorBody(500, `fake-openai internal error: ${String(err)}`)));
        } else {
          res.destroy();
        }
      });
    });
  }

  override on(event: 'call', listener: (call: FakeOpenAICall) => void): this {
    return super.on(event, listener);
  }

  reset(): void {
    this.calls = [];
    this.maxInFlight = this.inFlight;
    this.failWith = undefined;
    this.gate = undefined;
    this.retryAfterSeconds = undefined;
    this.latency = { embeddings: 0, chat: 0 };
    this.chatReply = defaultChatReply;
    this.triageReply = () => DEFAULT_TRIAGE_REPLY;
    this.transcriptionReply = defaultTranscription;
  }

  async close(): Promise<void> {
    this.sleeper.cancelAll();
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const call: FakeOpenAICall = {
      path: new URL(req.url ?? '/', 'http://localhost').pathname,
      body: undefined,
      startedAt: Date.now(),
    };
    this.calls.push(call);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);

    let finished = false;
    const finish = (status: number) => {
      if (finished) return;
      finished = true;
      call.endedAt = Date.now();
      call.status = status;
      this.inFlight -= 1;
      this.emit('call', call);
    };
    // Client went away before we answered.
    res.on('close', () => finish(0));

    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      if (res.destroyed) return finish(0);
      finish(status); // bookkeeping first, so it is consistent by the time the client sees the answer
      res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${randomBytes(8).toString('hex')}`, ...headers });
      res.end(JSON.stringify(payload));
    };

    const bytes = await readBodyBytes(req);
    const raw = bytes.toString('utf8');
    let upload: Upload | undefined;
    if (/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
      upload = readMultipart(bytes, req.headers['content-type']!);
      call.body = upload.fields;
    } else if (raw.length > 0) {
      try {
        call.body = JSON.parse(raw);
      } catch {
        call.body = raw;
      }
    }

    const auth = req.headers.authorization ?? '';
    if (!/^Bearer\s+\S+/.test(auth)) {
      return send(401, {
        error: {
          message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      });
    }

    const route =
      req.method === 'POST' && call.path === '/v1/embeddings'
        ? 'embeddings'
        : req.method === 'POST' && call.path === '/v1/chat/completions'
          ? 'chat'
          : req.method === 'POST' && call.path === '/v1/audio/transcriptions'
            ? 'transcriptions'
            : undefined;
    if (!route) {
      return send(404, errorBody(404, `Invalid URL (${req.method} ${call.path})`));
    }

    const failure = this.failWith?.(call);
    const triage = route === 'chat' && isTriageRequest(call.body);
    await this.sleeper.sleep(route === 'embeddings' ? this.latency.embeddings : triage ? (this.latency.triage ?? this.latency.chat) : this.latency.chat);
    await this.gate?.(call);
    if (res.destroyed) return finish(0);

    if (failure === 0) {
      finish(0);
      req.socket.destroy();
      return;
    }
    if (failure !== undefined) {
      const headers: Record<string, string> = {};
      if (failure === 429 && this.retryAfterSeconds !== undefined) headers['retry-after'] = String(this.retryAfterSeconds);
      return send(failure, errorBody(failure), headers);
    }

    if (typeof call.body !== 'object' || call.body === null || Array.isArray(call.body)) {
      return send(400, errorBody(400, 'We could not parse the JSON body of your request.'));
    }
    try {
      const payload = route === 'transcriptions' ? this.transcription(upload) : route === 'embeddings' ? this.embeddings(call.body) : this.chat(call.body);
      return send(200, payload);
    } catch (err) {
      if (err instanceof BadRequest) return send(400, errorBody(400, err.message, err.param));
      throw err;
    }
  }

  /**
   * As OpenAI's endpoint: a model and a file are required, and the file's format is read from its name's
   * extension (https://platform.openai.com/docs/api-reference/audio/createTranscription lists them).
   */
  private transcription(upload: Upload | undefined) {
    if (!upload) throw new BadRequest('Expected a multipart/form-data body.');
    const { fields, file } = upload;
    if (typeof fields.model !== 'string' || !fields.model) throw new BadRequest('you must provide a model parameter', 'model');
    if (!file) throw new BadRequest('No file was provided.', 'file');
    const extension = /\.([a-z0-9]+)$/i.exec(file.filename)?.[1]?.toLowerCase() ?? '';
    if (!TRANSCRIPTION_FORMATS.includes(extension)) {
      throw new BadRequest(`Invalid file format. Supported formats: ${JSON.stringify(TRANSCRIPTION_FORMATS)}`, 'file');
    }
    const text = this.transcriptionReply(file.bytes, fields);
    const tokens = approxTokens(text);
    return { text, usage: { type: 'tokens', input_tokens: Math.ceil(file.bytes.length / 100), output_tokens: tokens, total_tokens: tokens + Math.ceil(file.bytes.length / 100) } };
  }

  private embeddings(body: any) {
    const { model, input, encoding_format, dimensions } = body;
    if (typeof model !== 'string' || !model) throw new BadRequest('you must provide a model parameter', 'model');
    const inputs: unknown[] = typeof input === 'string' ? [input] : Array.isArray(input) ? input : [];
    if (inputs.length === 0 || inputs.some((s) => typeof s !== 'string' || s.length === 0)) {
      throw new BadRequest("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'input');
    }
    if (encoding_format !== undefined && encoding_format !== 'float' && encoding_format !== 'base64') {
      throw new BadRequest(`Invalid encoding_format: ${String(encoding_format)}`, 'encoding_format');
    }
    if (dimensions !== undefined && (!Number.isInteger(dimensions) || dimensions < 1)) {
      throw new BadRequest(`Invalid dimensions: ${String(dimensions)}`, 'dimensions');
    }
    const texts = inputs as string[];
    const tokens = texts.reduce((n, t) => n + approxTokens(t), 0);
    return {
      object: 'list',
      data: texts.map((text, index) => {
        const vector = fakeEmbedding(text, dimensions ?? 1536);
        return { object: 'embedding', index, embedding: encoding_format === 'base64' ? toBase64Float32(vector) : vector };
      }),
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  }

  private chat(body: any) {
    const { model, messages, stream } = body;
    if (stream) throw new BadRequest('fake-openai does not support stream: true', 'stream');
    if (typeof model !== 'string' || !model) throw new BadRequest('you must provide a model parameter', 'model');
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new BadRequest("Invalid 'messages': expected a non-empty array.", 'messages');
    }
    const content = isTriageRequest(body) ? this.triageReply(body) : this.chatReply(body);
    const promptTokens = messages.reduce((n: number, m: any) => n + approxTokens(messageText(m?.content)), 0);
    const completionTokens = approxTokens(content);
    return {
      id: `chatcmpl-${randomBytes(12).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content, refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    };
  }
}

const TRANSCRIPTION_FORMATS = ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm'];

/** The text after "spoken:" in the audio bytes, else ''. */
function defaultTranscription(audio: Buffer): string {
  const text = audio.toString('latin1');
  const at = text.indexOf('spoken:');
  return at < 0 ? '' : Buffer.from(text.slice(at + 'spoken:'.length), 'latin1').toString('utf8');
}

type Upload = { fields: Record<string, unknown>; file: { filename: string; contentType: string; bytes: Buffer } | undefined };

/** A multipart/form-data body: its text fields, and the part named "file" (recorded without its bytes). */
function readMultipart(body: Buffer, contentType: string): Upload {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const fields: Record<string, unknown> = {};
  let file: Upload['file'];
  if (!boundary) return { fields, file };
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next < 0) break;
    const part = body.subarray(at + delimiter.length + 2, next - 2);
    const split = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, split).toString('utf8');
    const content = part.subarray(split + 4);
    const name = /name="([^"]*)"/i.exec(headers)?.[1] ?? '';
    const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
    if (filename !== undefined && name === 'file') {
      file = { filename, contentType: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1] ?? '', bytes: Buffer.from(content) };
      fields.file = { filename, contentType: file.contentType, size: content.length };
    } else {
      fields[name] = content.toString('utf8');
    }
    at = next;
  }
  return { fields, file };
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const fake = new FakeOpenAIServer();
  const port = await listenOnLoopback(fake.server);
  fake.baseURL = `http://127.0.0.1:${port}/v1`;
  return fake;
}
