// The demo's page server: static files, the client library, and the
// application's own API, as a real backend would have them: GET /token
// mints the user's fanoutd token (HS256 with the daemon's secret), GET
// /api/state is the state the page refetches, POST /api/change makes a
// change (tests use it), GET /config tells the page where fanoutd is.
// Node built-ins only.

import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { createBackend } from './backend.mjs';
import { startPublisher } from './publisher.mjs';

const here = decodeURIComponent(new URL('.', import.meta.url).pathname);
const ROOTS = { '/client/': path.join(here, '../../clients/js/'), '/': path.join(here, 'public/') };
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css' };

/** An HS256 JWT for sub, valid ttl seconds, allowed the channels. */
export function mintToken(secret, sub, channels, ttl) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, channels, iat: now, exp: now + ttl })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/**
 * Starts the page server. options: wsUrl (fanoutd's WebSocket URL),
 * socketPath (its Unix socket), secret (its HMAC secret), host/port
 * (127.0.0.1:0), publishEveryMs (0: no random changes), tokenTtl (s).
 * Resolves to { url, backend, close() }.
 */
export async function startServer({ wsUrl, socketPath, secret, host = '127.0.0.1', port = 0, publishEveryMs = 1500,
  tokenTtl = 600 }) {
  const backend = createBackend({ socketPath });
  const stop = publishEveryMs > 0 ? startPublisher(backend, publishEveryMs) : () => {};
  const server = http.createServer((req, res) => {
    route(req, res, { backend, wsUrl, secret, tokenTtl }).catch(() => send(res, 500, 'text/plain', 'internal error'));
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  const a = server.address();
  return {
    url: `http://${a.address}:${a.port}/`,
    backend,
    close: () => { stop(); server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

async function route(req, res, { backend, wsUrl, secret, tokenTtl }) {
  const url = new URL(req.url, 'http://x');
  switch (`${req.method} ${url.pathname}`) {
    case 'GET /token':
      return send(res, 200, 'text/plain', mintToken(secret, 'demo-user', ['project:*', 'projects'], tokenTtl));
    case 'GET /config':
      return send(res, 200, 'application/json', JSON.stringify({ wsUrl }));
    case 'GET /api/state':
      return send(res, 200, 'application/json', JSON.stringify(backend.state));
    case 'POST /api/change': {
      const { type, projectId, payload } = JSON.parse(await body(req));
      const status = await backend.change(type, projectId, payload);
      return send(res, 200, 'application/json', JSON.stringify({ published: status === 200 }));
    }
  }
  if (req.method !== 'GET') return send(res, 405, 'text/plain', 'method not allowed');
  return serveFile(res, url.pathname === '/' ? '/index.html' : url.pathname);
}

async function serveFile(res, p) {
  const prefix = Object.keys(ROOTS).find((r) => p.startsWith(r));
  const file = path.normalize(path.join(ROOTS[prefix], p.slice(prefix.length)));
  if (!file.startsWith(ROOTS[prefix]) || !TYPES[path.extname(file)]) return send(res, 404, 'text/plain', 'not found');
  try {
    return send(res, 200, TYPES[path.extname(file)], await readFile(file));
  } catch {
    return send(res, 404, 'text/plain', 'not found');
  }
}

function send(res, status, type, data) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(data);
}

function body(req) {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { s += c; if (s.length > 65536) req.destroy(); });
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}
