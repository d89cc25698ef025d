import type { IncomingMessage } from 'node:http';

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * True when a request was made on this machine and not relayed: a loopback peer, addressed to a
 * loopback host name, with no forwarding header. A loopback peer alone is not enough: ngrok's agent
 * (and any local reverse proxy) also connects from 127.0.0.1, but it adds X-Forwarded-For and keeps
 * the public Host. Read from the socket, never from `req.ip`, which trusts those headers.
 */
export function fromThisMachine(req: Pick<IncomingMessage, 'socket' | 'headers'>): boolean {
  if (!LOOPBACK_ADDRESSES.has(req.socket.remoteAddress ?? '')) return false;
  if (req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined || req.headers['x-real-ip'] !== undefined) return false;
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  return LOOPBACK_HOSTS.has(host);
}
