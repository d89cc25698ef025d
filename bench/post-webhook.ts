import http from 'node:http';

export type WebhookOutcome = { status: number } | { error: string };

/**
 * Keep-alive connections, and enough of them that a slow server never makes a request wait for a free
 * socket here: queueing must happen in the server, where it is measured, not in the client.
 */
export function webhookAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 2048 });
}

/** POSTs a prepared webhook and settles once its answer has been read (or it failed, or timed out). */
export function postWebhook(agent: http.Agent, url: URL, request: { headers: Record<string, string>; body: string }, timeoutMs: number): Promise<WebhookOutcome> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent, headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', (error) => resolve({ error: error.message }));
    });
    // Twilio waits 15 s for an answer (then logs error 11200): a slower answer is an error here too.
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.message === 'timeout' ? 'timeout' : (error.code ?? error.message) }));
    req.end(request.body);
  });
}
