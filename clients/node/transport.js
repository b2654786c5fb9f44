// One HTTP exchange with the daemon over its Unix socket or TCP, with a
// per-attempt timeout. node:http rather than fetch: fetch cannot reach a
// Unix socket.

import http from 'node:http';
import https from 'node:https';
import { ConnectionError, TimeoutError } from './errors.js';

/** The largest answer read; the API's largest is a list of invalid events. */
const MAX_RESPONSE_BYTES = 4 << 20;

/**
 * Where requests go: { socketPath } or { url } (http: or https:), with the
 * Authorization header for TCP. The keep-alive agent is the caller's to
 * destroy (Publisher.close).
 */
export function createTransport({ socketPath, url, apiKey }) {
  if (!socketPath === !url) throw new TypeError('Publisher: give exactly one of socketPath and url');
  if (url && !apiKey) throw new TypeError('Publisher: the TCP API needs apiKey (the daemon\'s api.key)');
  const base = url ? new URL(url) : null;
  const mod = base?.protocol === 'https:' ? https : http;
  const agent = new mod.Agent({ keepAlive: true, maxSockets: 16 });
  const headers = apiKey && url ? { Authorization: `Bearer ${apiKey}` } : {};
  const prefix = base ? base.pathname.replace(/\/+$/, '') : '';
  return {
    agent,
    request(method, path, { body, contentType, timeoutMs, signal, stream = false } = {}) {
      const opts = {
        method, agent, path: prefix + path, signal,
        headers: { ...headers, Accept: 'application/json' },
      };
      if (socketPath) opts.socketPath = socketPath;
      else Object.assign(opts, { protocol: base.protocol, hostname: base.hostname, port: base.port });
      if (body !== undefined) {
        opts.headers['Content-Type'] = contentType ?? 'application/json';
        opts.headers['Content-Length'] = Buffer.byteLength(body);
      }
      return exchange(mod, opts, body, timeoutMs, stream);
    },
    // openStream starts a long request with a chunked body on a
    // connection of its own (not the agent's: it is held for the stream's
    // life) and returns node's ClientRequest; the caller writes and ends it.
    openStream(path, contentType) {
      const opts = {
        method: 'POST', agent: false, path: prefix + path,
        headers: { ...headers, Accept: 'application/x-ndjson', 'Content-Type': contentType },
      };
      if (socketPath) opts.socketPath = socketPath;
      else Object.assign(opts, { protocol: base.protocol, hostname: base.hostname, port: base.port });
      return mod.request(opts);
    },
  };
}

function exchange(mod, opts, body, timeoutMs, stream) {
  return new Promise((resolve, reject) => {
    let timer;
    const req = mod.request(opts, (res) => {
      if (stream) {
        clearTimeout(timer);
        resolve({ status: res.statusCode, headers: res.headers, res });
        return;
      }
      const chunks = [];
      let size = 0;
      res.on('data', (c) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) req.destroy(new ConnectionError(`fanoutd: answer larger than ${MAX_RESPONSE_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (err) => fail(err));
    });
    const fail = (err) => {
      clearTimeout(timer);
      if (err instanceof TimeoutError || err instanceof ConnectionError || err?.name === 'AbortError') reject(err);
      else reject(new ConnectionError(`fanoutd: ${err.code ?? ''} ${err.message}`.replace(/ +/g, ' '), { cause: err }));
    };
    req.on('error', fail);
    if (timeoutMs > 0) {
      timer = setTimeout(() => req.destroy(new TimeoutError(`fanoutd: no answer within ${timeoutMs} ms`)), timeoutMs);
    }
    req.end(body);
  });
}
