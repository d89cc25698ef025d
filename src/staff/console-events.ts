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
  /** Open streams, with the session each belongs to (so that signing out ends that session's streams). */
  const clients = new Map<Response, string>();
  let marker: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let checking: Promise<void> | undefined;
  let again = false;

  const send = (client: Response, event: string, data: string) => client.write(`event: ${event}\ndata: ${data}\n\n`);

  async function check(): Promise<void> {
    try {
      const next = await deps.readMarker();
      if (marker !== undefined && next !== marker) for (const client of clients.keys()) send(client, 'change', JSON.stringify({ at: new Date().toISOString() }));
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
    /** Takes a GET request's response as a stream until the client goes away or `session` signs out. */
    attach(res: Response, session: string): void {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n\n');
      const first = clients.size === 0;
      clients.set(res, session);
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
    /** Ends the streams of a session that signed out. */
    end(session: string): void {
      for (const [client, owner] of clients) if (owner === session) client.end();
    },
    /** Ends every stream (shutdown). */
    close(): void {
      for (const client of clients.keys()) client.end();
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
