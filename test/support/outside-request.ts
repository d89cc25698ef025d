import { request, type Agent } from 'node:http';
import { networkInterfaces } from 'node:os';

/** This machine's first address that is not loopback (none in a sandbox with loopback only). */
export function nonLoopbackAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (!address.internal && address.family === 'IPv4') return address.address;
  }
  return undefined;
}

export type PlainResponse = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/**
 * An HTTP request over a real connection to `address`:`port` (the server listens on every interface).
 * Connecting to a non-loopback address of this machine makes the server see a peer that is not
 * loopback, as a request from another machine would be; `headers` may still claim `Host: 127.0.0.1`,
 * which fetch() would not let a test set.
 */
export function requestTo(
  address: string,
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; agent?: Agent },
): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: address, port, method: options.method ?? 'GET', path: options.path, headers: options.headers ?? {}, ...(options.agent ? { agent: options.agent } : {}) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}
