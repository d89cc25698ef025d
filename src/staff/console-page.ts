import { readFileSync } from 'node:fs';

import express from 'express';

const FILES = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
} as const;

// Everything the page runs is this origin's: no inline script, no CDN (the service runs offline), no
// framing (a framed console could be clicked through by another site).
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * The console page: three static files read once at start, served as they are (nothing to build). GET
 * /staff and /staff/c/<id> (the link in an alert) are the same page; it reads the id from the address.
 */
export function consolePage(): express.Router {
  const files = Object.fromEntries(
    Object.entries(FILES).map(([name, type]) => [name, { type, body: readFileSync(new URL(`./console/${name}`, import.meta.url)) }]),
  ) as Record<keyof typeof FILES, { type: string; body: Buffer }>;
  const router = express.Router();
  const serve = (name: keyof typeof FILES): express.RequestHandler => (_req, res) => {
    res.set({ ...SECURITY_HEADERS, 'content-type': files[name].type, 'cache-control': 'no-cache' }).send(files[name].body);
  };
  router.get(['/staff', '/staff/', '/staff/c/:id', '/staff/uncovered'], serve('index.html'));
  router.get('/staff/console.js', serve('console.js'));
  router.get('/staff/console.css', serve('console.css'));
  return router;
}
