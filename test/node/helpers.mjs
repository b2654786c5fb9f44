// Helpers for the fanoutd end-to-end tests: build and run the daemon, mint
// JWTs, drive Node's built-in (undici) WebSocket client, and talk to the
// publish API over the Unix socket. Node built-ins only.

import { execFile, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

const here = import.meta.dirname ?? decodeURIComponent(new URL('.', import.meta.url).pathname);
export const repoRoot = path.resolve(here, '..', '..');

const READY_TIMEOUT_MS = 15_000;
const BUILD_TIMEOUT_MS = 45_000;
const TERM_GRACE_MS = 5_000;

// ---------------------------------------------------------------- temp dirs

const tempDirs = new Set();

export function makeTempDir(prefix = 'fanoutd-e2e-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDirs() {
  for (const dir of tempDirs) {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

// ---------------------------------------------------------------- build

/**
 * Returns the daemon binary: $FANOUTD_BIN when set, otherwise a fresh
 * `go build ./cmd/fanoutd` into a temp dir.
 */
export async function buildDaemon() {
  if (process.env.FANOUTD_BIN) return path.resolve(process.env.FANOUTD_BIN);
  const out = path.join(makeTempDir('fanoutd-bin-'), 'fanoutd');
  await new Promise((resolve, reject) => {
    execFile('go', ['build', '-o', out, './cmd/fanoutd'],
      { cwd: repoRoot, timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`go build failed: ${err.message}\n${stdout}${stderr}`));
        else resolve();
      });
  });
  return out;
}

// ---------------------------------------------------------------- daemon

// Every daemon still running. The after() hooks stop them gracefully; this
// is only the safety net for a test process that exits without running them.
const live = new Set();
process.once('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
});

/** The environment without any FANOUTD_* variable, so runs are hermetic. */
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('FANOUTD_')) env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Starts the daemon on 127.0.0.1:0 with its Unix socket in a fresh temp dir.
 *   dev: true   -> `--dev`; the WebSocket URL and dev token come from the banner.
 *   secret: s   -> FANOUTD_AUTH_HMAC_SECRET=s; the port comes from the JSON
 *                  "fanoutd started" log line on stderr.
 * Resolves to { proc, wsUrl, port, token, socketPath, dir, output() }.
 */
export function startDaemon(bin, { dev = false, secret, args = [], env = {} } = {}) {
  const dir = makeTempDir();
  const socketPath = path.join(dir, 'f.sock');
  const argv = ['--listen', '127.0.0.1:0', '--socket', socketPath, ...args];
  if (dev) argv.unshift('--dev');
  const extra = { ...env };
  if (secret !== undefined) extra.FANOUTD_AUTH_HMAC_SECRET = secret;
  const proc = spawn(bin, argv, { env: cleanEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));

  let stdout = '';
  let stderr = '';
  const output = () => `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');

  return new Promise((resolve, reject) => {
    const d = { proc, dir, socketPath, output, wsUrl: undefined, port: undefined, token: undefined };
    const fail = (msg) => {
      clearTimeout(timer);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      reject(new Error(`${msg}\n${output()}`));
    };
    const check = () => {
      if (dev) {
        const url = /^\s*WebSocket:\s+(ws:\/\/\S+)\s*$/m.exec(stdout);
        const tok = /^\s*dev token:\s+(\S+)\s*$/m.exec(stdout);
        if (!url || !tok) return;
        d.wsUrl = url[1];
        d.port = Number(new URL(d.wsUrl).port);
        d.token = tok[1];
      } else {
        const started = startedLine(stderr);
        if (!started) return;
        d.port = Number(started.listen.split(':').pop());
        d.wsUrl = `ws://${started.listen}${started.ws_path || '/ws'}`;
      }
      clearTimeout(timer);
      proc.removeListener('exit', onExit);
      resolve(d);
    };
    const onExit = (code, sig) => fail(`fanoutd exited before it was ready (code ${code}, signal ${sig})`);
    const timer = setTimeout(() => fail(`fanoutd not ready within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    proc.stdout.on('data', (s) => { stdout += s; check(); });
    proc.stderr.on('data', (s) => { stderr += s; check(); });
    proc.once('exit', onExit);
    proc.once('error', (err) => fail(`cannot start ${bin}: ${err.message}`));
  });
}

/** The parsed JSON log line {"msg":"fanoutd started","listen":...}, or null. */
function startedLine(stderr) {
  for (const line of stderr.split('\n')) {
    if (!line.includes('"fanoutd started"')) continue;
    try {
      const j = JSON.parse(line);
      if (j.msg === 'fanoutd started' && typeof j.listen === 'string') return j;
    } catch { /* not JSON (yet): keep looking */ }
  }
  return null;
}

/**
 * SIGTERM, then SIGKILL if the process is still running after 5 s.
 * Resolves to { code, signal, killed }.
 */
export function stopDaemon(d) {
  const proc = d?.proc;
  if (!proc) return Promise.resolve(null);
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode, killed: false });
  }
  return new Promise((resolve) => {
    let killed = false;
    const timer = setTimeout(() => { killed = true; proc.kill('SIGKILL'); }, TERM_GRACE_MS);
    proc.once('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, killed }); });
    proc.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------- JWT

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** An HS256 JWT with the given claims, signed with secret. */
export function mintJWT(secret, claims) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** Standard claims: sub, channels, iat now, exp now + ttlSeconds (may be negative). */
export function claims(sub, channels, ttlSeconds = 3600) {
  const now = Math.floor(Date.now() / 1000);
  return { sub, channels, iat: now, exp: now + ttlSeconds };
}

// ---------------------------------------------------------------- WebSocket

const trackers = new WeakMap();
const receivedAt = new WeakMap();

/** performance.now() at which a message returned by nextMessage arrived. */
export const receivedAtOf = (msg) => receivedAt.get(msg);

/**
 * Buffers every message of ws (parsed JSON) so that nextMessage never misses
 * one that arrived before it was called.
 */
export function track(ws) {
  let t = trackers.get(ws);
  if (t) return t;
  t = { queue: [], waiters: [], closed: null };
  trackers.set(ws, t);
  ws.addEventListener('message', (ev) => {
    const at = performance.now();
    let msg;
    try {
      msg = JSON.parse(typeof ev.data === 'string' ? ev.data : Buffer.from(ev.data).toString());
    } catch {
      msg = { __unparsable: String(ev.data) };
    }
    if (msg && typeof msg === 'object') receivedAt.set(msg, at);
    const i = t.waiters.findIndex((w) => w.predicate(msg));
    if (i >= 0) {
      const [w] = t.waiters.splice(i, 1);
      w.resolve(msg);
    } else {
      t.queue.push(msg);
    }
  });
  ws.addEventListener('close', (ev) => {
    t.closed = { code: ev.code, reason: ev.reason, wasClean: ev.wasClean };
    for (const w of t.waiters.splice(0)) {
      w.reject(new Error(`connection closed (code ${ev.code} ${JSON.stringify(ev.reason)}) ` +
        `while waiting for ${w.what}; unmatched messages: ${JSON.stringify(t.queue)}`));
    }
  });
  return t;
}

const describe = (p) => p.description || p.toString();

/**
 * Resolves with the first message (parsed JSON) matching predicate, taking it
 * out of the buffer; rejects after timeoutMs or when the connection closes.
 */
export function nextMessage(ws, predicate = () => true, timeoutMs = 5000) {
  const t = track(ws);
  const i = t.queue.findIndex(predicate);
  if (i >= 0) return Promise.resolve(t.queue.splice(i, 1)[0]);
  const what = describe(predicate);
  if (t.closed) {
    return Promise.reject(new Error(`connection already closed (code ${t.closed.code}) ` +
      `while waiting for ${what}; unmatched messages: ${JSON.stringify(t.queue)}`));
  }
  return new Promise((resolve, reject) => {
    const w = {
      predicate,
      what,
      resolve: (m) => { clearTimeout(w.timer); resolve(m); },
      reject: (e) => { clearTimeout(w.timer); reject(e); },
    };
    w.timer = setTimeout(() => {
      t.waiters.splice(t.waiters.indexOf(w), 1);
      reject(new Error(`no message matching ${what} within ${timeoutMs} ms; ` +
        `unmatched messages: ${JSON.stringify(t.queue)}`));
    }, timeoutMs);
    t.waiters.push(w);
  });
}

/** A predicate on message type (and optionally more fields), readable in errors. */
export function ofType(type, fields = {}) {
  const p = (m) => m?.type === type && Object.entries(fields).every(([k, v]) => m[k] === v);
  p.description = `{type:${JSON.stringify(type)}${Object.entries(fields)
    .map(([k, v]) => `, ${k}:${JSON.stringify(v)}`).join('')}}`;
  return p;
}

/** The messages currently buffered and not yet taken by nextMessage. */
export const pending = (ws) => [...track(ws).queue];

/**
 * Opens a WebSocket and resolves once it is open (tracked from the start, so
 * the welcome is never missed). Rejects on error/close before open or after
 * timeoutMs.
 */
export function openClient(url, protocols, timeoutMs = 5000) {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  track(ws);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { ws.close(); reject(new Error(`WebSocket not open within ${timeoutMs} ms`)); }, timeoutMs);
    ws.addEventListener('open', () => { clearTimeout(timer); resolve(ws); }, { once: true });
    ws.addEventListener('error', (ev) => {
      if (ws.readyState === WebSocket.OPEN) return;
      clearTimeout(timer);
      reject(new Error(`WebSocket failed to open: ${ev.message || ev.error?.message || 'error'}`));
    }, { once: true });
  });
}

/** Closes ws and waits (bounded) for its close event. */
export function closeClient(ws, timeoutMs = 3000) {
  if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    ws.addEventListener('close', () => { clearTimeout(timer); resolve(); }, { once: true });
    if (ws.readyState !== WebSocket.CLOSING) ws.close(1000);
  });
}

/**
 * Opens a WebSocket that the server is expected to refuse and reports what
 * the client saw: { opened, errored, close: {code, wasClean} | null }.
 * Resolves once 'close' fired, or closeGraceMs after 'error' if it never does
 * (Node 20's undici fires no 'close' after a failed handshake:
 * nodejs/undici#3546), or after timeoutMs.
 */
export function tryRejectedClient(url, protocols, { timeoutMs = 5000, closeGraceMs = 1000 } = {}) {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  const seen = { opened: false, errored: false, close: null, readyState: undefined, order: [] };
  return new Promise((resolve) => {
    let grace;
    const done = () => {
      clearTimeout(timer);
      clearTimeout(grace);
      seen.readyState = ws.readyState;
      if (seen.opened) ws.close();
      resolve(seen);
    };
    const timer = setTimeout(done, timeoutMs);
    ws.addEventListener('open', () => { seen.opened = true; seen.order.push('open'); });
    ws.addEventListener('error', () => {
      seen.errored = true;
      seen.order.push('error');
      grace = setTimeout(done, closeGraceMs);
    });
    ws.addEventListener('close', (ev) => {
      seen.close = { code: ev.code, wasClean: ev.wasClean };
      seen.order.push('close');
      done();
    });
  });
}

/** Sends a JSON command. */
export const send = (ws, obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));

// ---------------------------------------------------------------- raw HTTP

/**
 * A WebSocket upgrade request by hand, to see the HTTP status the daemon
 * answers. Resolves to { statusCode, headers, body }; a 101 resolves with
 * statusCode 101 and the socket destroyed.
 */
export function rawUpgrade(port, { path: reqPath = '/ws', headers = {}, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: reqPath,
      method: 'GET',
      agent: false,
      headers: {
        Upgrade: 'websocket',
        Connection: 'Upgrade',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ statusCode: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ statusCode: res.statusCode, headers: res.headers, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP request over the daemon's Unix socket. Resolves to { status, headers, body, json }. */
export function unixRequest(socketPath, { method = 'GET', path: reqPath, headers = {}, body, timeoutMs = 5000 }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: reqPath, method, headers, agent: false });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** POST /v1/publish; body is an object/array (sent as JSON) or a string. */
export function publish(socketPath, body, contentType = 'application/json') {
  return unixRequest(socketPath, {
    method: 'POST',
    path: '/v1/publish',
    headers: { 'Content-Type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** GET /v1/stats, parsed. */
export async function getStats(socketPath) {
  const r = await unixRequest(socketPath, { path: '/v1/stats' });
  if (r.status !== 200 || !r.json) throw new Error(`GET /v1/stats: ${r.status} ${r.body}`);
  return r.json;
}

/**
 * Polls fn until it returns a truthy value, for state the daemon updates
 * asynchronously (counters after a close). Bounded: rejects with the last
 * value after timeoutMs.
 */
export async function waitFor(fn, { timeoutMs = 3000, intervalMs = 20, what = 'condition' } = {}) {
  const deadline = performance.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last?.ok) return last.value;
    if (performance.now() > deadline) {
      throw new Error(`${what} not reached within ${timeoutMs} ms; last: ${JSON.stringify(last?.value)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// positionless checks that msg carries a position (offset, epoch) and
// returns it without them, for comparing the rest exactly.
export function positionless(msg) {
  if (typeof msg.offset !== 'number' || typeof msg.epoch !== 'string' || msg.epoch === '') {
    throw new Error(`no position in ${JSON.stringify(msg)}`);
  }
  const { offset, epoch, ...rest } = msg;
  return rest;
}

// publishedCount checks a publish answer: n events, n positions.
export function publishedCount(json) {
  if (!Array.isArray(json.positions) || json.positions.length !== json.published) {
    throw new Error(`positions do not match published: ${JSON.stringify(json)}`);
  }
  return json.published;
}
