import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import { closeServer, createSleeper, listenOnLoopback, readBody } from './fake-server.ts';

/** One request to the fake, as it arrived. */
export type GraphApiCall = { method: string; path: string; authorization: string | undefined; body: any; status?: number; at: number };

/** A text message the fake accepted. */
export type GraphSentMessage = { phoneNumberId: string; to: string; body: string; id: string; at: number };

/** A read receipt (with its typing indicator, if any) the fake accepted. */
export type GraphReadReceipt = { phoneNumberId: string; messageId: string; typingIndicator: unknown; at: number };

/** What a failing call answers: the HTTP status and Graph's `{error: {...}}` body. */
export type GraphApiFailure = { status: number; error: { message: string; type: string; code: number; error_subcode?: number; fbtrace_id: string } };

export type FakeGraphApi = {
  /** e.g. http://127.0.0.1:PORT/v23.0 — pass as META_GRAPH_API_URL */
  baseURL: string;
  /** the bearer token it accepts */
  accessToken: string;
  /** every request, in arrival order */
  calls: GraphApiCall[];
  /** text messages accepted, in order */
  messages: GraphSentMessage[];
  /** read receipts accepted, in order */
  readReceipts: GraphReadReceipt[];
  /** mutable; applied to every /messages request before answering */
  latencyMs: number;
  /** decide a failure per /messages request; attempt = 1-based count of such requests */
  failWith: ((call: GraphApiCall, attempt: number) => GraphApiFailure | undefined) | undefined;
  /** event-driven; resolves once messages.length >= count, rejects after timeoutMs (default 10000) */
  waitForMessages(count: number, timeoutMs?: number): Promise<GraphSentMessage[]>;
  /** event-driven; resolves once readReceipts.length >= count */
  waitForReadReceipts(count: number, timeoutMs?: number): Promise<GraphReadReceipt[]>;
  /** clears calls, messages, read receipts, latency and failWith */
  reset(): void;
  close(): Promise<void>;
};

export const DEFAULT_META_ACCESS_TOKEN = 'EAAG-fake-graph-api-token-0123456789';

/** A Graph API error as Meta writes it (e.g. 190 OAuthException, 130429 rate limit, 131047 window closed). */
export function graphFailure(status: number, code: number, message: string, type = 'OAuthException'): GraphApiFailure {
  return { status, error: { message, type, code, fbtrace_id: `A${randomBytes(10).toString('base64url')}` } };
}

const MESSAGES_PATH = /^\/v\d+\.\d+\/([^/]+)\/messages$/;

class FakeGraphApiServer implements FakeGraphApi {
  baseURL = '';
  calls: GraphApiCall[] = [];
  messages: GraphSentMessage[] = [];
  readReceipts: GraphReadReceipt[] = [];
  latencyMs = 0;
  failWith: FakeGraphApi['failWith'] = undefined;

  readonly server: Server;
  private attempts = 0;
  private readonly events = new EventEmitter();
  private readonly sleeper = createSleeper();

  constructor(public accessToken: string) {
    this.events.setMaxListeners(0);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent && !res.destroyed) send(res, 500, { error: graphFailure(500, 1, `fake-graph-api internal error: ${String(err)}`).error });
        else res.destroy();
      });
    });
  }

  waitForMessages(count: number, timeoutMs = 10_000): Promise<GraphSentMessage[]> {
    return this.waitUntil('message', () => this.messages.length >= count, () => this.messages, `${count} message(s); got ${this.messages.length}`, timeoutMs);
  }

  waitForReadReceipts(count: number, timeoutMs = 10_000): Promise<GraphReadReceipt[]> {
    return this.waitUntil('read', () => this.readReceipts.length >= count, () => this.readReceipts, `${count} read receipt(s); got ${this.readReceipts.length}`, timeoutMs);
  }

  reset(): void {
    this.calls = [];
    this.messages = [];
    this.readReceipts = [];
    this.attempts = 0;
    this.latencyMs = 0;
    this.failWith = undefined;
  }

  async close(): Promise<void> {
    this.sleeper.cancelAll();
    await closeServer(this.server);
  }

  private waitUntil<T>(event: string, done: () => boolean, value: () => T, what: string, timeoutMs: number): Promise<T> {
    if (done()) return Promise.resolve(value());
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        cleanup();
        resolve(value());
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake-graph-api: timed out after ${timeoutMs} ms waiting for ${what} (${this.calls.length} call(s))`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off(event, check);
      };
      this.events.on(event, check);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const raw = await readBody(req);
    const call: GraphApiCall = { method: req.method ?? 'GET', path, authorization: req.headers.authorization, body: undefined, at: Date.now() };
    try {
      call.body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      call.body = raw;
    }
    this.calls.push(call);
    const answer = (status: number, payload: unknown) => {
      call.status = status;
      send(res, status, payload);
    };
    const fail = (failure: GraphApiFailure) => answer(failure.status, { error: failure.error });

    if (call.authorization !== `Bearer ${this.accessToken}`) {
      return fail(graphFailure(401, 190, 'Invalid OAuth access token - Cannot parse access token'));
    }
    const match = MESSAGES_PATH.exec(path);
    if (!match || call.method !== 'POST') {
      return fail(graphFailure(400, 100, `Unsupported ${call.method} request. Object with ID '${path}' does not exist`, 'GraphMethodException'));
    }

    this.attempts += 1;
    await this.sleeper.sleep(this.latencyMs);
    if (res.destroyed) return;
    const failure = this.failWith?.(call, this.attempts);
    if (failure) return fail(failure);

    const body = call.body;
    if (typeof body !== 'object' || body === null || body.messaging_product !== 'whatsapp') {
      return fail(graphFailure(400, 100, 'The parameter messaging_product is required.'));
    }
    const phoneNumberId = match[1]!;
    if (body.status === 'read') {
      if (typeof body.message_id !== 'string') return fail(graphFailure(400, 100, 'The parameter message_id is required.'));
      const receipt: GraphReadReceipt = { phoneNumberId, messageId: body.message_id, typingIndicator: body.typing_indicator, at: Date.now() };
      this.readReceipts.push(receipt);
      answer(200, { success: true });
      this.events.emit('read', receipt);
      return;
    }
    if (body.type !== 'text' || typeof body.text?.body !== 'string' || typeof body.to !== 'string') {
      return fail(graphFailure(400, 100, 'Invalid parameter'));
    }
    if (body.text.body.length > 4096) {
      return fail(graphFailure(400, 100, "Param text['body'] must be at most 4096 characters long."));
    }
    const message: GraphSentMessage = { phoneNumberId, to: body.to, body: body.text.body, id: `wamid.${randomBytes(24).toString('base64')}`, at: Date.now() };
    this.messages.push(message);
    answer(200, { messaging_product: 'whatsapp', contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: message.id }] });
    this.events.emit('message', message);
  }
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(payload));
}

export async function startFakeGraphApi(options: { accessToken?: string } = {}): Promise<FakeGraphApi> {
  const fake = new FakeGraphApiServer(options.accessToken ?? DEFAULT_META_ACCESS_TOKEN);
  const port = await listenOnLoopback(fake.server);
  fake.baseURL = `http://127.0.0.1:${port}/v23.0`;
  return fake;
}
