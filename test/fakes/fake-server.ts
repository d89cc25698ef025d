import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the HTTP fakes share: reading a body, latency that close() cuts short, listening on 127.0.0.1:0. */

/** The whole body as UTF-8; what arrived so far if the client goes away. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
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
