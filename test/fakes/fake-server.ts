import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the HTTP fakes share: reading a body, latency that close() cuts short, listening on 127.0.0.1:0,
 * waiting for an event, and POSTing callbacks back to the service.
 */

/** WhatsApp's customer service window: free-form messages only within 24 hours of the customer's last message. */
export const WHATSAPP_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The whole body as UTF-8; what arrived so far if the client goes away. */
export function readBody(req: IncomingMessage): Promise<string> {
  return readBodyBytes(req).then((bytes) => bytes.toString('utf8'));
}

/** The request body as bytes (a multipart upload's file is not UTF-8). */
export function readBodyBytes(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('close', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Sleeps for simulated latency; cancelAll() drops the pending ones so that a closing fake leaves no timers. */
export function createSleeper() {
  const timers = new Set<NodeJS.Timeout>();
  return {
    sleep(ms: number): Promise<void> {
      if (!(ms > 0)) return Promise.resolve();
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          timers.delete(t);
          resolve();
        }, ms);
        timers.add(t);
      });
    },
    cancelAll(): void {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

/**
 * The short-lived download links the providers hand out for media (Twilio's redirect target, Graph's
 * media `url`): an unguessable token that stands for a value until `expiresAt` on the fake's clock.
 */
export function createShortLivedLinks<T>() {
  let links = new Map<string, { value: T; expiresAt: number }>();
  return {
    /** A new token for `value`, valid until `expiresAt` (epoch ms). */
    issue(value: T, expiresAt: number): string {
      const token = randomBytes(18).toString('base64url');
      links.set(token, { value, expiresAt });
      return token;
    },
    /** What the token stands for at `now`; undefined once it has expired, or for a token never issued (or cleared). */
    redeem(token: string, now: number): T | undefined {
      const link = links.get(token);
      return link && now < link.expiresAt ? link.value : undefined;
    },
    clear(): void {
      links = new Map();
    },
  };
}

/** Answers a file: its bytes, with their Content-Type and length. */
export function sendBytes(res: ServerResponse, contentType: string, bytes: Uint8Array): void {
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': contentType, 'content-length': String(bytes.byteLength) });
  res.end(bytes);
}

/** Listens on a free port of 127.0.0.1 and returns it. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Stops listening and cuts the connections still open. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

/**
 * Resolves with value() once done() holds, checking again on each `event`; rejects after timeoutMs with
 * `${prefix}: timed out after N ms waiting for ${what()}`. Event-driven: no polling, no sleeps.
 */
export function waitForEvent<T>(
  events: EventEmitter,
  event: string,
  done: () => boolean,
  value: () => T,
  prefix: string,
  what: () => string,
  timeoutMs: number,
): Promise<T> {
  if (done()) return Promise.resolve(value());
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!done()) return;
      cleanup();
      resolve(value());
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${prefix}: timed out after ${timeoutMs} ms waiting for ${what()}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      events.off(event, check);
    };
    events.on(event, check);
  });
}

/** waitForEvent for the common case: resolves with list() once it holds `count` items (`noun` names them in the error). */
export function waitForCount<T>(
  events: EventEmitter,
  event: string,
  list: () => T[],
  count: number,
  noun: string,
  prefix: string,
  context: () => string,
  timeoutMs: number,
): Promise<T[]> {
  return waitForEvent(events, event, () => list().length >= count, list, prefix, () => `${count} ${noun}; got ${list().length} (${context()})`, timeoutMs);
}

/** What came of one callback a fake POSTed: the receiver's HTTP status and body, or why there was none. */
export type CallbackOutcome = { status: number; body: string } | { error: string };

/**
 * The fakes' outgoing side: status callbacks (Twilio) and status webhooks (Meta) POSTed to the service.
 * Only to loopback http URLs: a test may configure a public URL (PUBLIC_URL behind ngrok), which a fake
 * must never try to reach; such a callback is recorded as an error instead. One connection per callback
 * (no keep-alive), so that stopping the service is never held up by a fake's idle socket.
 */
export function createCallbackPoster(timeoutMs = 15_000) {
  const inFlight = new Set<Promise<unknown>>();
  const controller = new AbortController();

  function request(url: string, headers: Record<string, string>, body: string): Promise<CallbackOutcome> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return Promise.resolve({ error: `not sent: ${JSON.stringify(url)} is not a URL` });
    }
    if (target.protocol !== 'http:' || !isLoopback(target.hostname)) {
      return Promise.resolve({ error: `not sent: the fakes only call http URLs on loopback, not ${target.origin}` });
    }
    if (controller.signal.aborted) return Promise.resolve({ error: 'not sent: the fake is closing' });
    return new Promise((resolve) => {
      const req = httpRequest(
        target,
        { method: 'POST', agent: false, signal: controller.signal, timeout: timeoutMs, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (error) => resolve({ error: error.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
      req.end(body);
    });
  }

  return {
    /**
     * Counts as in flight at once (so that settled() waits for it), but is sent only once `after` has
     * settled: a provider answers the API call before it reports on the message.
     */
    post(url: string, headers: Record<string, string>, body: string, after: Promise<unknown> = Promise.resolve()): Promise<CallbackOutcome> {
      const sent = after.then(
        () => request(url, headers, body),
        () => request(url, headers, body),
      );
      track(sent);
      return sent;
    },
    /** Keeps a chain of posts (sent, then delivered) in flight as one. */
    track,
    /** Resolves once every callback started so far, and any started meanwhile, has been answered or has failed. */
    async settled(): Promise<void> {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    /** Aborts the callbacks in flight and waits for them to end. */
    async close(): Promise<void> {
      controller.abort();
      await Promise.allSettled([...inFlight]);
    },
  };

  function track<P extends Promise<unknown>>(promise: P): P {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
    return promise;
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}
