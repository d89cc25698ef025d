import type { Response } from 'express';

import type { Logger } from '../logger.ts';

/**
 * The console's live stream (server-sent events). Whatever changes a conversation (a message stored by
 * any instance, a reply sent, a delivery report, a staff action) changes the database's change marker
 * (staff_change_marker); while someone watches, it is read every `pollMs`, and at once when this
 * process knows something changed. Each change is one `change` event: the page fetches what it shows.
 * One read serves every open page, and none is made when nobody watches.
 */
export function createConsoleEvents(deps: { readMarker: () => Promise<string>; logger: Logger; pollMs?: number }) {
  const pollMs = deps.pollMs ?? 1_000;
  const clients = new Set<Response>();
  let marker: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let checking: Promise<void> | undefined;
  let again = false;

  const send = (client: Response, event: string, data: string) => client.write(`event: ${event}\ndata: ${data}\n\n`);

  async function check(): Promise<void> {
    try {
      const next = await deps.readMarker();
      if (marker !== undefined && next !== marker) for (const client of clients) send(client, 'change', JSON.stringify({ at: new Date().toISOString() }));
      marker = next;
    } catch (error) {
      deps.logger.warn({ err: error }, 'console live stream: could not read the change marker');
    }
  }

  /** Reads the marker now (or once more right after the read in progress). */
  function poke(): void {
    if (clients.size === 0) return;
    if (checking) {
      again = true;
      return;
    }
    checking = check().finally(() => {
      checking = undefined;
      if (again) {
        again = false;
        poke();
      }
    });
  }

  function schedule(): void {
    if (timer || clients.size === 0) return;
    timer = setInterval(poke, pollMs);
    timer.unref();
  }

  return {
    /** Takes a GET request's response as a stream until the client goes away. */
    attach(res: Response): void {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      const first = clients.size === 0;
      clients.add(res);
      // A comment line now and then keeps proxies from closing an idle stream.
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 25_000);
      keepAlive.unref();
      res.on('close', () => {
        clearInterval(keepAlive);
        clients.delete(res);
        if (clients.size === 0 && timer) {
          clearInterval(timer);
          timer = undefined;
          marker = undefined;
        }
      });
      // 'ready' once the marker the changes are measured against is read: the page loads what it shows
      // on 'ready', so nothing that changes after that load can be missed.
      if (first || marker === undefined) {
        poke();
        void Promise.resolve(checking).then(() => send(res, 'ready', '{}'));
      } else {
        send(res, 'ready', '{}');
      }
      schedule();
    },
    /** Something changed here (a webhook stored, staff acted): tell the watchers without waiting for the poll. */
    poke,
    /** Ends every stream (shutdown). */
    close(): void {
      for (const client of clients) client.end();
      clients.clear();
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    get watching() {
      return clients.size;
    },
  };
}

export type ConsoleEvents = ReturnType<typeof createConsoleEvents>;
