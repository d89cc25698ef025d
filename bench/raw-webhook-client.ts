import net from 'node:net';

import type { WebhookOutcome } from './post-webhook.ts';

/** A request as bytes on the wire: request line, headers and body, built before the clock starts. */
export function requestBytes(url: URL, request: { headers: Record<string, string>; body: string }): Buffer {
  const body = Buffer.from(request.body);
  const headers = Object.entries({ ...request.headers, host: url.host, 'content-length': String(body.length), connection: 'keep-alive' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return Buffer.concat([Buffer.from(`POST ${url.pathname}${url.search} HTTP/1.1\r\n${headers}\r\n`), body]);
}

type Waiting = { resolve: (outcome: WebhookOutcome) => void; deadline: number };
type Connection = { socket: net.Socket; received: Buffer; waiting: Waiting | undefined };

/**
 * The open-loop generator's HTTP/1.1 client: keep-alive connections, one request at a time on each
 * (a new connection when none is free, so that no request queues here, only in the server), answers
 * read by their status line and Content-Length. Node's own client spent about half a millisecond of
 * CPU a request, as much as the service it measured, on the same two cores: its share of the
 * machine then showed up as the service's latency.
 */
export function rawWebhookClient(url: URL) {
  const idle: Connection[] = [];
  const open = new Set<Connection>();

  const settle = (connection: Connection, outcome: WebhookOutcome) => {
    const { waiting } = connection;
    connection.waiting = undefined;
    waiting?.resolve(outcome);
  };
  const drop = (connection: Connection, error: string) => {
    open.delete(connection);
    const at = idle.indexOf(connection);
    if (at !== -1) idle.splice(at, 1);
    connection.socket.destroy();
    settle(connection, { error });
  };

  const connect = (): Connection => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) || 80, noDelay: true });
    const connection: Connection = { socket, received: Buffer.alloc(0), waiting: undefined };
    open.add(connection);
    socket.on('data', (chunk: Buffer) => {
      // Bytes nobody asked for (the server wrote on an idle connection): this connection is no longer usable.
      if (!connection.waiting) return drop(connection, 'unexpected bytes');
      connection.received = connection.received.length === 0 ? chunk : Buffer.concat([connection.received, chunk]);
      const answer = readAnswer(connection.received);
      if (!answer) return;
      connection.received = connection.received.subarray(answer.length);
      settle(connection, { status: answer.status });
      if (answer.close) drop(connection, 'closed');
      else idle.push(connection);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => drop(connection, error.code ?? error.message));
    socket.on('close', () => drop(connection, 'ECONNRESET'));
    return connection;
  };

  // One timer for every deadline: a timer per request would cost the generator what it saves.
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const connection of open) if (connection.waiting && connection.waiting.deadline <= now) drop(connection, 'timeout');
  }, 100);

  return {
    post(bytes: Buffer, timeoutMs: number): Promise<WebhookOutcome> {
      const connection = idle.pop() ?? connect();
      return new Promise((resolve) => {
        connection.waiting = { resolve, deadline: performance.now() + timeoutMs };
        connection.socket.write(bytes);
      });
    },
    destroy() {
      clearInterval(sweep);
      for (const connection of open) drop(connection, 'closed');
    },
  };
}

const HEADERS_END = Buffer.from('\r\n\r\n');

/** A whole answer at the start of `bytes`: its status, its length in bytes, and whether the server closes after it. */
function readAnswer(bytes: Buffer): { status: number; length: number; close: boolean } | undefined {
  const end = bytes.indexOf(HEADERS_END);
  if (end === -1) return undefined;
  const head = bytes.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  const contentLength = /\r\ncontent-length: *(\d+)/i.exec(head);
  const close = /\r\nconnection: *close/i.test(head);
  if (contentLength) {
    const length = end + 4 + Number(contentLength[1]);
    return bytes.length >= length ? { status, length, close } : undefined;
  }
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    const last = bytes.indexOf('0\r\n\r\n', end + 4);
    return last === -1 ? undefined : { status, length: last + 5, close };
  }
  // Neither: the body runs to the end of the connection, which these answers never use.
  return { status, length: end + 4, close: true };
}
