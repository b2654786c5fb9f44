#!/usr/bin/env node
// nodehub: the fan-out hub that fanoutd replaced, rebuilt on Node's `ws`
// library as the baseline for fanoutd's benchmarks. It speaks fanoutd's client
// protocol (PROTOCOL.md, `fanout.v1`) and its publish API (README.md,
// "Publishing"), so fanoutd's load generator drives both with one scenario.
//
// Design, as the ADRs describe the original: one process, one event loop; a
// `ws` WebSocketServer in noServer mode behind an http server whose 'upgrade'
// handler authenticates the JWT before the 101; a Map from channel name to the
// Set of subscribed sockets; each event encoded once and sent to every
// subscriber; the ping/pong heartbeat from the ws README; slow consumers
// closed on ws.bufferedAmount.
//
//   node server.mjs --listen 127.0.0.1:8090 --socket /tmp/nodehub.sock --secret <hmac secret>
//
// Every flag also reads the FANOUTD_* variable fanoutd uses (flags win).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import process from 'node:process';
import { parseArgs } from 'node:util';

import { WebSocketServer, WebSocket } from 'ws';

// ------------------------------------------------------------------ config

const USAGE = `usage: node server.mjs [flags]

  --listen ADDR              WebSocket address, host:port (FANOUTD_LISTEN; default 127.0.0.1:8090)
  --socket PATH              publish API Unix socket (FANOUTD_SOCKET; default ./nodehub.sock)
  --secret S                 HS256 secret, >= 32 bytes (FANOUTD_AUTH_HMAC_SECRET)
  --secret-file PATH         file holding the secret (FANOUTD_AUTH_HMAC_SECRET_FILE)
  --ws-path PATH             WebSocket path (FANOUTD_WS_PATH; default /ws)
  --heartbeat-interval DUR   ping period, e.g. 30s or 500ms (FANOUTD_HEARTBEAT_INTERVAL; default 30s)
  --max-connections N        more get 503; 0 = no limit (FANOUTD_LIMITS_MAX_CONNECTIONS; default 0)
`;

// fanoutd's defaults (README.md, Configuration).
const PROTOCOL = 'fanout.v1';
const BEARER_PREFIX = 'bearer.';
const MAX_SUBSCRIPTIONS = 128;
const MAX_CHANNEL_LENGTH = 255;
const MAX_TYPE_LENGTH = 64;
const MAX_ID_BYTES = 128;
const MAX_MESSAGE_SIZE = 64 * 1024;
const MAX_FRAGMENTS = 64;
const WRITE_QUEUE_BYTES = 1 << 20;
const MAX_TOKEN_BYTES = 4096;
const MAX_PUBLISH_BYTES = 1 << 20;
const MAX_HEADER_BYTES = 16 * 1024;
const HANDSHAKE_TIMEOUT_MS = 5000;
const CLOSE_TIMEOUT_MS = 3000;
const SHUTDOWN_TIMEOUT_MS = 10_000;
const MIN_KEY_BYTES = 32;

const CLOSE_GOING_AWAY = 1001;
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_SLOW_CONSUMER = 4001;

function fatal(msg) {
  process.stderr.write(`nodehub: ${msg}\n`);
  process.exit(2);
}

function parseDuration(s, what) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(String(s).trim());
  if (!m) fatal(`${what}: want a duration like 30s or 500ms, got ${JSON.stringify(s)}`);
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2]];
  if (!(ms >= 1)) fatal(`${what}: must be at least 1ms`);
  return ms;
}

function parseListen(addr) {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) fatal(`--listen: want host:port, got ${JSON.stringify(addr)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

function loadConfig() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        listen: { type: 'string' },
        socket: { type: 'string' },
        secret: { type: 'string' },
        'secret-file': { type: 'string' },
        'ws-path': { type: 'string' },
        'heartbeat-interval': { type: 'string' },
        'max-connections': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fatal(`${err.message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const env = process.env;
  const pick = (flag, name, def) => values[flag] ?? env[name] ?? def;

  let secret = pick('secret', 'FANOUTD_AUTH_HMAC_SECRET', undefined);
  const secretFile = pick('secret-file', 'FANOUTD_AUTH_HMAC_SECRET_FILE', undefined);
  if (secret === undefined && secretFile !== undefined) {
    try {
      secret = readFileSync(secretFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      fatal(`--secret-file: ${err.message}`);
    }
  }
  if (secret === undefined || secret === '') fatal(`an HMAC secret is required (--secret or FANOUTD_AUTH_HMAC_SECRET)\n${USAGE}`);
  const key = Buffer.from(secret, 'utf8');
  if (key.length < MIN_KEY_BYTES) fatal(`the HMAC secret must be at least ${MIN_KEY_BYTES} bytes (got ${key.length})`);

  const wsPath = pick('ws-path', 'FANOUTD_WS_PATH', '/ws');
  if (!wsPath.startsWith('/')) fatal('--ws-path must start with /');
  const maxConnections = Number(pick('max-connections', 'FANOUTD_LIMITS_MAX_CONNECTIONS', '0'));
  if (!Number.isInteger(maxConnections) || maxConnections < 0) fatal('--max-connections: want an integer >= 0');

  return {
    listen: parseListen(pick('listen', 'FANOUTD_LISTEN', '127.0.0.1:8090')),
    socket: pick('socket', 'FANOUTD_SOCKET', './nodehub.sock'),
    key,
    wsPath,
    heartbeatMs: parseDuration(pick('heartbeat-interval', 'FANOUTD_HEARTBEAT_INTERVAL', '30s'), '--heartbeat-interval'),
    maxConnections,
  };
}

const cfg = loadConfig();

// JSON log lines on stdout; tokens and payloads are never logged.
function log(level, msg, fields = {}) {
  process.stdout.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields })}\n`);
}

// ------------------------------------------------------------------ JWT (HS256)

class AuthError extends Error {}

const B64URL = /^[A-Za-z0-9_-]*$/;

// Strict base64url, as fanoutd's parser (golang-jwt WithStrictDecoding):
// no padding, and no second spelling through unused low bits.
function b64urlDecode(s) {
  if (!B64URL.test(s) || s.length % 4 === 1) return null;
  const buf = Buffer.from(s, 'base64url');
  return buf.toString('base64url') === s ? buf : null;
}

function decodeJSONPart(s) {
  const buf = b64urlDecode(s);
  if (buf === null) return null;
  try {
    const v = JSON.parse(buf.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** Verifies an HS256 JWT; returns { sub, channels } or throws AuthError(reason). */
function verifyToken(token) {
  if (!token) throw new AuthError('missing token');
  if (token.length > MAX_TOKEN_BYTES) throw new AuthError('token too long');
  const parts = token.split('.');
  if (parts.length !== 3) throw new AuthError('invalid token');
  const [h, p, s] = parts;
  const header = decodeJSONPart(h);
  if (header === null || header.alg !== 'HS256') throw new AuthError('invalid token');
  const sig = b64urlDecode(s);
  const want = createHmac('sha256', cfg.key).update(`${h}.${p}`).digest();
  if (sig === null || sig.length !== want.length || !timingSafeEqual(sig, want)) throw new AuthError('invalid token');
  const claims = decodeJSONPart(p);
  if (claims === null) throw new AuthError('invalid token');
  const now = Date.now() / 1000;
  const { exp, nbf, sub, channels } = claims;
  if (typeof exp !== 'number') throw new AuthError('invalid token');
  if (now >= exp) throw new AuthError('token expired');
  if (nbf !== undefined && (typeof nbf !== 'number' || now < nbf)) throw new AuthError('invalid token');
  if (typeof sub !== 'string' || sub === '') throw new AuthError('invalid token');
  if (channels !== undefined && channels !== null &&
      (!Array.isArray(channels) || !channels.every((c) => typeof c === 'string'))) {
    throw new AuthError('invalid token');
  }
  return { sub, channels: expandPatterns(channels ?? [], sub) };
}

// ------------------------------------------------------------------ names

const CHANNEL_RE = /^[A-Za-z0-9_\-.:@/=+,~!$|]+$/;
const TYPE_RE = /^[A-Za-z0-9_\-.:]+$/;
const RESERVED_TYPES = new Set([
  'welcome', 'subscribed', 'unsubscribed', 'pong', 'error', 'ping', 'close', 'expiring',
  'refreshed', 'join', 'leave', 'missed', 'reconnect', 'recovered',
]);
const PROJECT_PREFIX = 'project:';

// The regexes admit ASCII only, so string length is byte length.
const validChannel = (s) => s.length >= 1 && s.length <= MAX_CHANNEL_LENGTH && CHANNEL_RE.test(s);
const validType = (s) => s.length >= 1 && s.length <= MAX_TYPE_LENGTH && TYPE_RE.test(s);

/** "{sub}" becomes the subject; a subject unfit for a channel name drops the pattern. */
function expandPatterns(patterns, sub) {
  const out = [];
  for (const p of patterns) {
    if (p.includes('{sub}')) {
      if (!(sub.length <= 1024 && CHANNEL_RE.test(sub))) continue;
      out.push(p.replaceAll('{sub}', sub));
    } else {
      out.push(p);
    }
  }
  return out;
}

/** Patterns: "*" (any), "prefix*" (names starting with prefix), or an exact name. */
function permits(patterns, channel) {
  for (const p of patterns) {
    if (p.endsWith('*') ? channel.startsWith(p.slice(0, -1)) : p === channel) return true;
  }
  return false;
}

// ------------------------------------------------------------------ hub state

/** channel name -> Set of subscribed WebSockets */
const channels = new Map();

const counters = {
  published: 0,
  delivered: 0,
  dropped: 0,
  subscriptions: 0,
  upgraded: 0,
  rejected: 0,
  rejectedFull: 0,
  slowClosed: 0,
  heartbeatTimeout: 0,
};

const connPrefix = `${randomBytes(4).toString('hex')}-`;
let nextConnId = 0;
let shuttingDown = false;

const TEXT = { binary: false };

/**
 * Queues msg (a Buffer holding JSON) for ws as a text frame. A client whose
 * unsent bytes would pass WRITE_QUEUE_BYTES is closed with 4001 instead.
 * Returns whether msg was queued.
 */
function sendTo(ws, msg) {
  if (ws.readyState !== WebSocket.OPEN) return false;
  if (ws.bufferedAmount + msg.length > WRITE_QUEUE_BYTES) {
    slowConsumer(ws);
    return false;
  }
  ws.send(msg, TEXT);
  return true;
}

function slowConsumer(ws) {
  counters.slowClosed++;
  // Leave every channel now so later publishes skip it; the close frame
  // goes out behind what is already buffered, and ws destroys the socket
  // if the closing handshake does not finish within closeTimeout.
  leaveAll(ws);
  ws.close(CLOSE_SLOW_CONSUMER, 'slow consumer: write queue full');
}

function leaveAll(ws) {
  if (ws.subs === null) return;
  for (const name of ws.subs) leave(ws, name);
  ws.subs = null;
}

function leave(ws, name) {
  const set = channels.get(name);
  if (set !== undefined && set.delete(ws)) {
    counters.subscriptions--;
    if (set.size === 0) channels.delete(name);
  }
}

/**
 * Publishes one validated event: encoded once, then the same Buffer is sent
 * to every subscriber of the channel.
 */
function publish(channel, type, payload) {
  counters.published++;
  const subs = channels.get(channel);
  if (subs === undefined) return;
  const event = { type, channel };
  if (channel.startsWith(PROJECT_PREFIX)) event.projectId = channel.slice(PROJECT_PREFIX.length);
  if (payload !== undefined) event.payload = payload;
  const msg = Buffer.from(JSON.stringify(event));
  let ok = 0;
  let failed = 0;
  for (const ws of subs) {
    if (sendTo(ws, msg)) ok++;
    else failed++;
  }
  counters.delivered += ok;
  counters.dropped += failed;
}

// ------------------------------------------------------------------ client protocol

// Replies keep fanoutd's key order: type, id, channel, projectId, code, message.
function reply(type, id, channel, projectId) {
  const r = { type };
  if (id !== undefined) r.id = id;
  if (channel) r.channel = channel;
  if (projectId) r.projectId = projectId;
  return Buffer.from(JSON.stringify(r));
}

class ProtocolError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const BAD_JSON = new ProtocolError('bad_request', 'malformed command: not a JSON object with string fields');
const BAD_ID = new ProtocolError('bad_request', `malformed command: id must be a string or a number of at most ${MAX_ID_BYTES} bytes`);
const MISSING_ACTION = new ProtocolError('bad_request', 'malformed command: missing action');
const MISSING_CHANNEL = new ProtocolError('bad_request', 'malformed command: missing channel');
const DISAGREE = new ProtocolError('bad_request', 'malformed command: channel and projectId disagree');
const INVALID_CHANNEL = new ProtocolError('invalid_channel',
  `invalid channel name: must be 1-${MAX_CHANNEL_LENGTH} bytes of [A-Za-z0-9_-.:@/=+,~!$|]`);
const FORBIDDEN = new ProtocolError('forbidden', 'channel not allowed by token');
const TOO_MANY = new ProtocolError('too_many_subscriptions', 'too many subscriptions');
const UNKNOWN_ACTION = new ProtocolError('unknown_action', 'unknown action');

function errorReply(id, err) {
  const r = { type: 'error' };
  if (id !== undefined) r.id = id;
  r.code = err.code;
  r.message = err.message;
  return Buffer.from(JSON.stringify(r));
}

const optString = (v) => v === undefined || v === null || typeof v === 'string';

function validId(id) {
  if (typeof id === 'string') return Buffer.byteLength(JSON.stringify(id)) <= MAX_ID_BYTES;
  if (typeof id === 'number') return Number.isFinite(id) && JSON.stringify(id).length <= MAX_ID_BYTES;
  return false;
}

/** The command's channel: "channel", or "project:<projectId>" (ADR-004); both must agree. */
function commandChannel(cmd) {
  let name = cmd.channel || '';
  if (cmd.projectId) {
    const fromId = PROJECT_PREFIX + cmd.projectId;
    if (name !== '' && name !== fromId) throw DISAGREE;
    name = fromId;
  }
  if (name === '') throw MISSING_CHANNEL;
  if (!validChannel(name)) throw INVALID_CHANNEL;
  return name;
}

function onMessage(data, isBinary) {
  const ws = this;
  if (ws.readyState !== WebSocket.OPEN) return; // closing: no more commands
  ws.isAlive = true; // any frame from the client counts as a sign of life
  if (isBinary) {
    ws.close(CLOSE_UNSUPPORTED_DATA, 'binary messages are not supported');
    return;
  }
  let cmd;
  try {
    cmd = JSON.parse(data.toString('utf8')); // ws has checked the UTF-8
  } catch {
    sendTo(ws, errorReply(undefined, BAD_JSON));
    return;
  }
  if (cmd === null || typeof cmd !== 'object' || Array.isArray(cmd) ||
      !optString(cmd.action) || !optString(cmd.channel) || !optString(cmd.projectId)) {
    sendTo(ws, errorReply(undefined, BAD_JSON));
    return;
  }
  let id = cmd.id ?? undefined;
  if (id !== undefined && !validId(id)) {
    sendTo(ws, errorReply(undefined, BAD_ID));
    return;
  }
  try {
    switch (cmd.action) {
      case 'subscribe': subscribe(ws, cmd, id); break;
      case 'unsubscribe': unsubscribe(ws, cmd, id); break;
      case 'ping': sendTo(ws, reply('pong', id)); break;
      case undefined: case null: case '': throw MISSING_ACTION;
      default: throw UNKNOWN_ACTION;
    }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    sendTo(ws, errorReply(id, err));
  }
}

function subscribe(ws, cmd, id) {
  const name = commandChannel(cmd);
  if (!permits(ws.patterns, name)) throw FORBIDDEN;
  const ok = reply('subscribed', id, name, cmd.projectId);
  if (ws.subs !== null && ws.subs.has(name)) {
    sendTo(ws, ok);
    return;
  }
  if (ws.subs !== null && ws.subs.size >= MAX_SUBSCRIPTIONS) throw TOO_MANY;
  if (ws.subs === null) ws.subs = new Set();
  ws.subs.add(name);
  let set = channels.get(name);
  if (set === undefined) {
    set = new Set();
    channels.set(name, set);
  }
  set.add(ws);
  counters.subscriptions++;
  // One thread: no publish can run between the add and this reply, so no
  // event of the channel reaches the client before it learns it is subscribed.
  sendTo(ws, ok);
}

/**
 * Connect-time subscriptions: the channels of ?channels=a,b (comma-separated,
 * repeated parameters add up, duplicates and empty names dropped: the syntax
 * of fanoutd's SSE route), in order.
 */
function urlChannels(searchParams) {
  const names = new Set();
  for (const v of searchParams.getAll('channels')) {
    for (const name of v.split(',')) if (name !== '') names.add(name);
  }
  return [...names];
}

/**
 * Subscribes a new connection to the channels of its upgrade URL, each as a
 * subscribe command without an id would be: a {"type":"subscribed"} frame
 * per channel, or for a refused one {"type":"unsubscribed","channel",
 * "code","message"}, and the connection stays open.
 */
function subscribeAtConnect(ws, names) {
  for (const name of names) {
    try {
      subscribe(ws, { channel: name }, undefined);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      sendTo(ws, Buffer.from(JSON.stringify({ type: 'unsubscribed', channel: name, code: err.code, message: err.message })));
    }
  }
}

function unsubscribe(ws, cmd, id) {
  const name = commandChannel(cmd);
  if (ws.subs !== null && ws.subs.delete(name)) leave(ws, name);
  sendTo(ws, reply('unsubscribed', id, name, cmd.projectId));
}

function heartbeat() {
  this.isAlive = true;
}

function onClose() {
  leaveAll(this);
}

function onWsError(err) {
  // ws has already closed the connection with the right code (1002, 1007,
  // 1008, 1009); there is nothing left to do but not crash.
  void err;
}

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  maxPayload: MAX_MESSAGE_SIZE,
  maxFragments: MAX_FRAGMENTS,
  closeTimeout: CLOSE_TIMEOUT_MS,
  clientTracking: true,
  // Echo only fanout.v1, never the bearer.<jwt> carrier.
  handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
});

wss.on('connection', (ws, req, identity, channelsAtConnect) => {
  ws.isAlive = true;
  ws.id = connPrefix + (++nextConnId).toString(36);
  ws.user = identity.sub;
  ws.patterns = identity.channels;
  ws.subs = null; // Set of channel names, made on the first subscribe
  counters.upgraded++;
  ws.on('error', onWsError);
  ws.on('pong', heartbeat);
  ws.on('message', onMessage);
  ws.on('close', onClose);
  sendTo(ws, Buffer.from(JSON.stringify({
    type: 'welcome',
    connection_id: ws.id,
    user: ws.user,
    protocol: PROTOCOL,
    ping_interval_ms: cfg.heartbeatMs,
    max_subscriptions: MAX_SUBSCRIPTIONS,
  })));
  if (channelsAtConnect.length > 0) subscribeAtConnect(ws, channelsAtConnect);
});

// The heartbeat of the ws README: every interval, a client that has not
// answered the previous ping is terminated; the others are pinged again.
const heartbeatTimer = setInterval(() => {
  for (const ws of wss.clients) {
    if (ws.isAlive === false) {
      counters.heartbeatTimeout++;
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, cfg.heartbeatMs);

// ------------------------------------------------------------------ WebSocket HTTP server

function rejectUpgrade(socket, status, body, headers = {}) {
  counters.rejected++;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const lines = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.once('finish', socket.destroy);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

function onSocketError() {
  this.destroy();
}

function offeredProtocols(req) {
  const h = req.headers['sec-websocket-protocol'];
  if (h === undefined) return [];
  return h.split(',').map((s) => s.trim()).filter(Boolean);
}

/** The token, by precedence: Authorization: Bearer, bearer.<jwt> subprotocol, ?token=. */
function tokenOf(req, protocols, query) {
  const auth = req.headers.authorization;
  if (auth !== undefined && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  for (const p of protocols) {
    if (p.startsWith(BEARER_PREFIX)) return p.slice(BEARER_PREFIX.length);
  }
  return query.get('token') ?? '';
}

const httpServer = http.createServer({
  maxHeaderSize: MAX_HEADER_BYTES, // over it: 431
  headersTimeout: HANDSHAKE_TIMEOUT_MS,
  requestTimeout: HANDSHAKE_TIMEOUT_MS,
  connectionsCheckingInterval: 1000, // enforce the 5 s deadline within a second, not 30
});

httpServer.on('request', (req, res) => {
  const path = req.url.split('?', 1)[0];
  const status = path === cfg.wsPath ? 400 : 404;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
  res.end(status === 400 ? 'not a WebSocket upgrade' : 'not found');
});

httpServer.on('upgrade', (req, socket, head) => {
  socket.on('error', onSocketError);
  if (shuttingDown) return rejectUpgrade(socket, 503, 'shutting down', { 'Retry-After': '1' });
  let url;
  try {
    url = new URL(req.url, 'http://localhost');
  } catch {
    return rejectUpgrade(socket, 400, 'bad request target');
  }
  if (url.pathname !== cfg.wsPath) return rejectUpgrade(socket, 404, 'not found');
  const version = req.headers['sec-websocket-version'];
  if (version !== undefined && version !== '13') {
    return rejectUpgrade(socket, 426, 'unsupported WebSocket version', { 'Sec-WebSocket-Version': '13' });
  }
  const protocols = offeredProtocols(req);
  if (protocols.length > 0 && !protocols.includes(PROTOCOL)) {
    return rejectUpgrade(socket, 400, `offer the ${PROTOCOL} subprotocol (with bearer.<token>)`);
  }
  let identity;
  try {
    identity = verifyToken(tokenOf(req, protocols, url.searchParams));
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    return rejectUpgrade(socket, 401, err.message, { 'WWW-Authenticate': 'Bearer realm="fanoutd"' });
  }
  if (cfg.maxConnections > 0 && wss.clients.size >= cfg.maxConnections) {
    counters.rejectedFull++;
    return rejectUpgrade(socket, 503, 'connection limit reached', { 'Retry-After': '1' });
  }
  socket.removeListener('error', onSocketError);
  const channelsAtConnect = urlChannels(url.searchParams);
  // With channels in the URL, the 101, the welcome and the subscribed
  // frames leave in one write, as fanoutd sends them: the socket is corked
  // around handleUpgrade, which writes the 101 and runs the callback
  // synchronously here (no verifyClient, no deflate). A refused handshake
  // flushes through socket.end().
  if (channelsAtConnect.length > 0) socket.cork();
  // ws answers what is left (bad method, key or Upgrade header: 400).
  wss.handleUpgrade(req, socket, head, (ws) => {
    wss.emit('connection', ws, req, identity, channelsAtConnect);
  });
  if (channelsAtConnect.length > 0 && socket.writableCorked > 0) socket.uncork();
});

// ------------------------------------------------------------------ publish API (Unix socket)

const EVENT_FIELDS = new Set(['channel', 'type', 'payload', 'projectId']);

class TooLarge extends Error {}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > MAX_PUBLISH_BYTES) {
      reject(new TooLarge());
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_PUBLISH_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new TooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function writeJSON(res, status, body, headers = {}) {
  const data = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(data),
    ...headers,
  });
  res.end(data);
}

class Malformed extends Error {
  constructor(index, detail) {
    super(detail);
    this.index = index;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body's values, in order: one object, an array of them, or NDJSON lines. */
function decodeBody(buf, ndjson) {
  let text;
  try {
    text = utf8.decode(buf);
  } catch {
    throw new Malformed(0, 'body is not UTF-8');
  }
  if (ndjson) {
    const values = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        values.push(JSON.parse(line));
      } catch (err) {
        throw new Malformed(values.length, err.message);
      }
    }
    return values;
  }
  if (text.trim() === '') return [];
  let v;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Malformed(0, err.message);
  }
  return Array.isArray(v) ? v : [v];
}

/** Validates one decoded value as an event: returns { channel, type, payload } or a reason string. */
function checkEvent(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'event must be a JSON object';
  for (const k of Object.keys(v)) {
    if (!EVENT_FIELDS.has(k)) return `unknown field ${JSON.stringify(k)}`;
    if (k !== 'payload' && !optString(v[k])) return `field ${JSON.stringify(k)} must be a string`;
  }
  let channel = v.channel || '';
  const type = v.type || '';
  if (v.projectId) {
    const mapped = PROJECT_PREFIX + v.projectId;
    if (channel === '') channel = mapped;
    else if (channel !== mapped) {
      return `channel ${JSON.stringify(channel)} and projectId ${JSON.stringify(v.projectId)} disagree`;
    }
  }
  if (channel === '') return 'missing "channel" (or "projectId")';
  if (type === '') return 'missing "type"';
  if (!validChannel(channel)) {
    return `invalid channel name: must be 1-${MAX_CHANNEL_LENGTH} bytes of [A-Za-z0-9_-.:@/=+,~!$|]`;
  }
  if (!validType(type)) return `invalid event type: must be 1-${MAX_TYPE_LENGTH} bytes of [A-Za-z0-9_-.:]`;
  if (RESERVED_TYPES.has(type)) return `event type is reserved: ${JSON.stringify(type)} is a control message type`;
  return { channel, type, payload: v.payload };
}

function isNDJSON(contentType) {
  const mt = (contentType ?? '').split(';', 1)[0].trim().toLowerCase();
  return mt === 'application/x-ndjson' || mt === 'application/ndjson';
}

async function handlePublish(req, res) {
  let values;
  try {
    values = decodeBody(await readBody(req), isNDJSON(req.headers['content-type']));
  } catch (err) {
    if (err instanceof TooLarge) {
      writeJSON(res, 413, { error: 'body too large', limit: MAX_PUBLISH_BYTES }, { Connection: 'close' });
    } else if (err instanceof Malformed) {
      writeJSON(res, 400, { error: 'malformed JSON', index: err.index, detail: err.message });
    } else {
      writeJSON(res, 400, { error: 'cannot read request body' });
    }
    return;
  }
  if (values.length === 0) {
    writeJSON(res, 400, { error: 'no events' });
    return;
  }
  // The batch is validated whole before any of it is published.
  const events = [];
  const problems = [];
  for (let i = 0; i < values.length; i++) {
    const e = checkEvent(values[i]);
    if (typeof e === 'string') problems.push({ index: i, error: e });
    else events.push(e);
  }
  if (problems.length > 0) {
    writeJSON(res, 400, { error: 'invalid event', events: problems });
    return;
  }
  for (const e of events) publish(e.channel, e.type, e.payload);
  writeJSON(res, 200, { published: events.length });
}

function stats() {
  const mem = process.memoryUsage();
  return {
    connections: wss.clients.size,
    subscriptions: counters.subscriptions,
    channels: channels.size,
    goroutines: 1, // one event loop
    published: counters.published,
    delivered: counters.delivered,
    dropped: counters.dropped,
    pid: process.pid,
    rss: mem.rss,
    heap_used: mem.heapUsed,
    transport: {
      conns: wss.clients.size,
      upgraded: counters.upgraded,
      rejected: counters.rejected,
      rejected_full: counters.rejectedFull,
      slow_consumer_closed: counters.slowClosed,
      heartbeat_timeout: counters.heartbeatTimeout,
    },
  };
}

const apiServer = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
  const path = req.url.split('?', 1)[0];
  if (path === '/v1/publish') {
    if (req.method !== 'POST') return writeJSON(res, 405, { error: 'method not allowed' }, { Allow: 'POST' });
    handlePublish(req, res).catch((err) => {
      log('error', 'publish failed', { error: err.message });
      if (!res.headersSent) writeJSON(res, 500, { error: err.message });
    });
    return;
  }
  if (path === '/v1/stats') {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return writeJSON(res, 405, { error: 'method not allowed' }, { Allow: 'GET, HEAD' });
    }
    return writeJSON(res, 200, stats());
  }
  writeJSON(res, 404, { error: 'not found' });
});

// ------------------------------------------------------------------ start and stop

/**
 * A socket file left by a dead process is removed; one that a live process
 * answers on is never taken over (start fails instead).
 */
async function clearStaleSocket(path) {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (err.code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  const live = await new Promise((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
  if (live) throw new Error(`${path}: another process is serving on this socket`);
  unlinkSync(path);
}

function listen(server, ...args) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(...args, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

function removeSocketFile() {
  try {
    unlinkSync(cfg.socket);
  } catch { /* already gone */ }
}

let stopping = null;

function shutdown(signal) {
  if (stopping) {
    log('warn', 'second signal: exiting now', { signal });
    removeSocketFile();
    process.exit(1);
  }
  shuttingDown = true;
  log('info', 'shutting down', { signal, connections: wss.clients.size });
  clearInterval(heartbeatTimer);
  const hardStop = setTimeout(() => {
    log('warn', 'shutdown timed out', { connections: wss.clients.size });
    for (const ws of wss.clients) ws.terminate();
    removeSocketFile();
    process.exit(1);
  }, SHUTDOWN_TIMEOUT_MS);
  hardStop.unref();
  stopping = (async () => {
    // The publish API stops first; in-flight publishes finish.
    await new Promise((resolve) => {
      apiServer.close(() => resolve());
      apiServer.closeIdleConnections();
    });
    removeSocketFile();
    // Then every WebSocket gets what is queued for it, followed by 1001.
    const closed = new Promise((resolve) => wss.close(() => resolve()));
    for (const ws of wss.clients) ws.close(CLOSE_GOING_AWAY, 'server shutting down');
    await new Promise((resolve) => {
      httpServer.close(() => resolve());
      httpServer.closeIdleConnections();
    });
    await closed;
    log('info', 'stopped');
    process.exit(0);
  })();
}

async function main() {
  try {
    await clearStaleSocket(cfg.socket);
  } catch (err) {
    fatal(err.message);
  }
  try {
    await listen(apiServer, cfg.socket);
    chmodSync(cfg.socket, 0o660);
    await listen(httpServer, cfg.listen.port, cfg.listen.host);
  } catch (err) {
    removeSocketFile();
    fatal(`listen: ${err.message}`);
  }
  // Past startup, a failed accept (EMFILE, say) is logged, not fatal.
  httpServer.on('error', (err) => log('error', 'websocket server', { error: err.message }));
  apiServer.on('error', (err) => log('error', 'publish API server', { error: err.message }));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  const addr = httpServer.address();
  log('info', 'listening', {
    port: addr.port,
    listen: addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`,
    ws_path: cfg.wsPath,
    socket: cfg.socket,
    pid: process.pid,
    node: process.version,
  });
}

main();
