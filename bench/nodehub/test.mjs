// Tests of the nodehub baseline against fanoutd's protocol and publish API.
//
//   node --test --experimental-websocket bench/nodehub/test.mjs
//
// Each test starts its own server on 127.0.0.1:0 with the publish socket in a
// temp dir; clients are Node's built-in WebSocket, raw TCP where a test needs
// to see HTTP statuses or misbehave (never answer pings, never read).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

const here = path.dirname(new URL(import.meta.url).pathname);
const SERVER = path.join(here, 'server.mjs');
const SECRET = 'nodehub-test-secret-0123456789abcdef';

const dirs = [];
const procs = new Set();
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
process.once('exit', () => { for (const p of procs) p.kill('SIGKILL'); });

// ------------------------------------------------------------------ helpers

function tempDir() {
  const d = mkdtempSync(path.join(tmpdir(), 'nodehub-test-'));
  dirs.push(d);
  return d;
}

/** Starts server.mjs; resolves once it printed {"msg":"listening","port":N}. */
function startServer({ args = [], socketPath } = {}) {
  socketPath ??= path.join(tempDir(), 'hub.sock');
  const env = { ...process.env, FANOUTD_AUTH_HMAC_SECRET: SECRET };
  const proc = spawn(process.execPath, [SERVER, '--listen', '127.0.0.1:0', '--socket', socketPath, ...args],
    { env, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(proc);
  proc.once('exit', () => procs.delete(proc));
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (s) => { err += s; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 10 s\n${out}${err}`)), 10_000);
    const onEarlyExit = (code) => { clearTimeout(timer); reject(new Error(`exited ${code}\n${out}${err}`)); };
    proc.once('exit', onEarlyExit);
    proc.stdout.on('data', (s) => {
      out += s;
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        let j;
        try { j = JSON.parse(line); } catch { continue; }
        if (j.msg === 'listening' && Number.isInteger(j.port)) {
          clearTimeout(timer);
          proc.removeListener('exit', onEarlyExit);
          resolve({ proc, port: j.port, socketPath, url: `ws://127.0.0.1:${j.port}/ws`, output: () => out + err });
          return;
        }
      }
    });
  });
}

function stopServer(s, signal = 'SIGTERM') {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return Promise.resolve(s.proc.exitCode);
  return new Promise((resolve) => {
    s.proc.once('exit', (code, sig) => resolve(code ?? sig));
    s.proc.kill(signal);
  });
}

const b64url = (x) => Buffer.from(x).toString('base64url');

function mint(claims, secret = SECRET, header = { alg: 'HS256', typ: 'JWT' }) {
  const h = b64url(JSON.stringify(header));
  const p = b64url(JSON.stringify(claims));
  return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
}

function token(channels = ['*'], sub = 'alice', ttl = 3600) {
  return mint({ sub, channels, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + ttl });
}

/** HTTP over the publish socket; resolves { status, headers, body (parsed JSON when possible) }. */
function api(s, method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: s.socketPath, method, path: urlPath, headers }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => {
        let parsed = data;
        try { parsed = JSON.parse(data); } catch { /* keep text */ }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed, raw: data });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

const publish = (s, body, headers) => api(s, 'POST', '/v1/publish', body, { 'Content-Type': 'application/json', ...headers });
const stats = async (s) => (await api(s, 'GET', '/v1/stats')).body;

/** A built-in WebSocket whose messages are queued as raw strings for next(). */
function connect(s, protocols = ['fanout.v1', `bearer.${token()}`], url = s.url) {
  const ws = new WebSocket(url, protocols);
  const queue = [];
  const waiters = [];
  ws.closed = new Promise((resolve) => ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason })));
  ws.addEventListener('message', (e) => {
    const w = waiters.shift();
    if (w) w(e.data);
    else queue.push(e.data);
  });
  ws.next = (ms = 3000) => {
    if (queue.length) return Promise.resolve(queue.shift());
    return new Promise((resolve, reject) => {
      const w = (d) => { clearTimeout(t); resolve(d); };
      const t = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); reject(new Error('no message in time')); }, ms);
      waiters.push(w);
    });
  };
  ws.nextJSON = async (ms) => JSON.parse(await ws.next(ms));
  ws.cmd = async (c) => { ws.send(JSON.stringify(c)); return ws.nextJSON(); };
  ws.opened = new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', () => reject(new Error('WebSocket failed')), { once: true });
  });
  return ws;
}

async function connectWelcomed(s, protocols) {
  const ws = connect(s, protocols);
  await ws.opened;
  const welcome = await ws.nextJSON();
  assert.equal(welcome.type, 'welcome');
  return ws;
}

/** Raw upgrade request; resolves { status, head, socket, rest } after the response head. */
function rawUpgrade(port, { target = '/ws', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const h = {
      Host: `127.0.0.1:${port}`, Upgrade: 'websocket', Connection: 'Upgrade',
      'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), ...headers,
    };
    socket.on('connect', () => {
      socket.write(`GET ${target} HTTP/1.1\r\n${Object.entries(h).filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    });
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      const head = buf.subarray(0, end).toString();
      resolve({ status: Number(head.split(' ')[1]), head, socket, rest: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

/** A masked client text frame. */
function clientFrame(text, opcode = 0x1) {
  const payload = Buffer.from(text);
  assert.ok(payload.length < 126);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

async function waitFor(what, fn, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// ------------------------------------------------------------------ tests

test('an event arrives with fanoutd\'s exact JSON shape', async (t) => {
  const s = await startServer();
  t.after(() => stopServer(s));
  const ws = connect(s, ['fanout.v1', `bearer.${token(['project:*'])}`]);
  await ws.opened;
  assert.equal(ws.protocol, 'fanout.v1', 'only fanout.v1 is echoed');
  const welcome = await ws.nextJSON();
  assert.deepEqual(Object.keys(welcome), ['type', 'connection_id', 'user', 'protocol', 'ping_interval_ms', 'max_subscriptions']);
  assert.equal(welcome.user, 'alice');
  assert.equal(welcome.protocol, 'fanout.v1');
  assert.equal(welcome.ping_interval_ms, 30000);
  assert.equal(welcome.max_subscriptions, 128);
  assert.match(welcome.connection_id, /^[0-9a-f]{8}-[0-9a-z]+$/);

  ws.send(JSON.stringify({ action: 'subscribe', channel: 'project:abc-123', id: '1' }));
  assert.equal(await ws.next(), '{"type":"subscribed","id":"1","channel":"project:abc-123"}');

  const res = await publish(s, { channel: 'project:abc-123', type: 'story.status.changed', payload: { storyId: '6-5', status: 'done' } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { published: 1 });
  assert.equal(await ws.next(),
    '{"type":"story.status.changed","channel":"project:abc-123","projectId":"abc-123","payload":{"storyId":"6-5","status":"done"}}');

  // No projectId off project: channels; no payload when none was given.
  ws.close();
  const ws2 = await connectWelcomed(s);
  assert.equal(await ws2.next(200).then(() => 'unexpected').catch(() => 'none'), 'none');
  assert.deepEqual(await ws2.cmd({ action: 'subscribe', channel: 'user:alice', id: 7 }),
    { type: 'subscribed', id: 7, channel: 'user:alice' });
  assert.equal((await publish(s, { channel: 'user:alice', type: 'agent.started' })).status, 200);
  assert.equal(await ws2.next(), '{"type":"agent.started","channel":"user:alice"}');

  const st = await stats(s);
  for (const k of ['pid', 'connections', 'subscriptions', 'channels', 'published', 'delivered', 'dropped', 'goroutines', 'rss']) {
    assert.equal(typeof st[k], 'number', k);
  }
  assert.equal(st.pid, s.proc.pid);
  assert.equal(st.goroutines, 1);
  assert.equal(st.published, 2);
  assert.equal(st.delivered, 2);
  ws2.close();
});

test('handshake: bad tokens get 401 before any upgrade; every carrier works', async (t) => {
  const s = await startServer();
  t.after(() => stopServer(s));
  const cases = [
    ['wrong secret', { Authorization: `Bearer ${mint({ sub: 'a', exp: Date.now() / 1000 + 60 }, 'another-secret-another-secret-xxxx')}` }, 'invalid token'],
    ['expired', { Authorization: `Bearer ${token(['*'], 'a', -10)}` }, 'token expired'],
    ['no sub', { Authorization: `Bearer ${mint({ exp: Date.now() / 1000 + 60 })}` }, 'invalid token'],
    ['no exp', { Authorization: `Bearer ${mint({ sub: 'a' })}` }, 'invalid token'],
    ['alg none', { Authorization: `Bearer ${mint({ sub: 'a', exp: Date.now() / 1000 + 60 }, SECRET, { alg: 'none' })}` }, 'invalid token'],
    ['garbage', { Authorization: 'Bearer not.a.jwt' }, 'invalid token'],
    ['missing', {}, 'missing token'],
    ['too long', { Authorization: `Bearer ${'a'.repeat(5000)}` }, 'token too long'],
  ];
  for (const [name, headers, reason] of cases) {
    const r = await rawUpgrade(s.port, { headers });
    assert.equal(r.status, 401, name);
    assert.match(r.head, /^WWW-Authenticate: Bearer/mi, name);
    await new Promise((resolve) => { let b = r.rest.toString(); r.socket.on('data', (d) => { b += d; }); r.socket.on('close', () => { assert.equal(b, reason, name); resolve(); }); });
  }
  // Built-in client with a bad token: the upgrade fails, no welcome.
  const bad = connect(s, ['fanout.v1', `bearer.${token(['*'], 'a', -10)}`]);
  await assert.rejects(bad.opened);

  const ok = await rawUpgrade(s.port, { headers: { Authorization: `Bearer ${token()}` } });
  assert.equal(ok.status, 101);
  assert.doesNotMatch(ok.head, /Sec-WebSocket-Protocol/i);
  ok.socket.destroy();
  const q = await rawUpgrade(s.port, { target: `/ws?token=${token()}` });
  assert.equal(q.status, 101);
  q.socket.destroy();
  const sp = await rawUpgrade(s.port, { headers: { 'Sec-WebSocket-Protocol': `fanout.v1, bearer.${token()}` } });
  assert.equal(sp.status, 101);
  assert.match(sp.head, /^Sec-WebSocket-Protocol: fanout\.v1$/mi);
  sp.socket.destroy();

  assert.equal((await rawUpgrade(s.port, { headers: { 'Sec-WebSocket-Protocol': `bearer.${token()}` } })).status, 400);
  assert.equal((await rawUpgrade(s.port, { target: '/other', headers: { Authorization: `Bearer ${token()}` } })).status, 404);
  assert.equal((await rawUpgrade(s.port, { headers: { Authorization: `Bearer ${token()}`, 'Sec-WebSocket-Version': '8' } })).status, 426);
  assert.equal((await stats(s)).transport.rejected, cases.length + 4);
});

test('client commands: replies and error codes as in PROTOCOL.md', async (t) => {
  const s = await startServer();
  t.after(() => stopServer(s));
  const ws = await connectWelcomed(s, ['fanout.v1', `bearer.${token(['project:*', 'user:{sub}', 'news'])}`]);
  const err = (code, id) => (m) => { assert.equal(m.type, 'error'); assert.equal(m.code, code); assert.equal(m.id, id); assert.ok(m.message); };

  assert.deepEqual(await ws.cmd({ action: 'ping', id: '3' }), { type: 'pong', id: '3' });
  assert.deepEqual(await ws.cmd({ action: 'ping', id: null }), { type: 'pong' });
  assert.deepEqual(await ws.cmd({ action: 'subscribe', projectId: 'abc', id: 1 }),
    { type: 'subscribed', id: 1, channel: 'project:abc', projectId: 'abc' });
  assert.deepEqual(await ws.cmd({ action: 'subscribe', channel: 'project:abc', id: 2, extra: true }),
    { type: 'subscribed', id: 2, channel: 'project:abc' }, 'a second subscribe is not an error');
  assert.deepEqual(await ws.cmd({ action: 'subscribe', channel: 'user:alice' }), { type: 'subscribed', channel: 'user:alice' });
  err('forbidden', 'f')(await ws.cmd({ action: 'subscribe', channel: 'user:bob', id: 'f' }));
  err('forbidden', undefined)(await ws.cmd({ action: 'subscribe', channel: 'newsroom' }));
  err('invalid_channel', 'i')(await ws.cmd({ action: 'subscribe', channel: 'project:a b', id: 'i' }));
  err('invalid_channel', undefined)(await ws.cmd({ action: 'subscribe', channel: 'x'.repeat(256) }));
  err('bad_request', 'd')(await ws.cmd({ action: 'subscribe', projectId: 'abc', channel: 'project:xyz', id: 'd' }));
  err('bad_request', 'm')(await ws.cmd({ action: 'subscribe', id: 'm' }));
  err('bad_request', undefined)(await ws.cmd({ channel: 'news' }));
  err('bad_request', undefined)(await ws.cmd({ action: 'ping', id: { x: 1 } }));
  err('bad_request', undefined)(await ws.cmd({ action: 'ping', id: 'x'.repeat(200) }));
  err('bad_request', undefined)(await ws.cmd({ action: 5 }));
  ws.send('not json');
  err('bad_request', undefined)(await ws.nextJSON());
  ws.send('[1,2]');
  err('bad_request', undefined)(await ws.nextJSON());
  err('unknown_action', 'u')(await ws.cmd({ action: 'dance', id: 'u' }));
  assert.deepEqual(await ws.cmd({ action: 'unsubscribe', channel: 'project:abc', id: 'x' }),
    { type: 'unsubscribed', id: 'x', channel: 'project:abc' });
  assert.deepEqual(await ws.cmd({ action: 'unsubscribe', channel: 'news' }),
    { type: 'unsubscribed', channel: 'news' }, 'unsubscribing from a channel one is not in');
  assert.equal((await stats(s)).subscriptions, 1);

  // The subscription limit: 128 per connection.
  const ws2 = await connectWelcomed(s);
  for (let i = 0; i < 128; i++) ws2.send(JSON.stringify({ action: 'subscribe', channel: `c${i}` }));
  for (let i = 0; i < 128; i++) assert.equal((await ws2.nextJSON()).type, 'subscribed');
  err('too_many_subscriptions', 'z')(await ws2.cmd({ action: 'subscribe', channel: 'c128', id: 'z' }));
  assert.equal((await ws2.cmd({ action: 'subscribe', channel: 'c5' })).type, 'subscribed');
  const st = await stats(s);
  assert.equal(st.subscriptions, 129);
  assert.equal(st.channels, 129);
  ws2.close();
  await ws2.closed;
  await waitFor('subscriptions released', async () => (await stats(s)).subscriptions === 1);

  // A binary message closes with 1003.
  ws.send(new Uint8Array([1, 2, 3]));
  assert.equal((await ws.closed).code, 1003);
});

test('connect-time subscriptions: ?channels= subscribes at the upgrade; refusals are unsubscribed frames', async (t) => {
  const s = await startServer();
  t.after(() => stopServer(s));
  const url = `${s.url}?channels=bench:1,admin:1,bench:1&channels=bench:2,,bad%20name`;
  const ws = connect(s, ['fanout.v1', `bearer.${token(['bench:*'])}`], url);
  await ws.opened;
  assert.equal((await ws.nextJSON()).type, 'welcome');
  // In URL order, duplicates and empty names dropped, no id (no command was sent).
  assert.equal(await ws.next(), '{"type":"subscribed","channel":"bench:1"}');
  assert.equal(await ws.next(),
    '{"type":"unsubscribed","channel":"admin:1","code":"forbidden","message":"channel not allowed by token"}');
  assert.equal(await ws.next(), '{"type":"subscribed","channel":"bench:2"}');
  assert.equal(await ws.next(), '{"type":"unsubscribed","channel":"bad name","code":"invalid_channel",' +
    '"message":"invalid channel name: must be 1-255 bytes of [A-Za-z0-9_-.:@/=+,~!$|]"}');
  // A refusal does not end the connection: the subscriptions work, and
  // commands still do.
  assert.equal((await stats(s)).subscriptions, 2);
  assert.equal((await publish(s, { channel: 'bench:2', type: 'e' })).status, 200);
  assert.equal(await ws.next(), '{"type":"e","channel":"bench:2"}');
  assert.deepEqual(await ws.cmd({ action: 'subscribe', channel: 'bench:1', id: 7 }),
    { type: 'subscribed', id: 7, channel: 'bench:1' });
  assert.equal((await stats(s)).subscriptions, 2, 'the same channel again is one subscription');
  ws.close();

  // Without the parameter nothing follows the welcome.
  const plain = await connectWelcomed(s);
  await assert.rejects(plain.next(300), /no message in time/);
  plain.close();
});

// The socket is corked so that all of it leaves in one writev (checked with
// strace -e trace=write,writev: one call instead of three); from here the
// test sees that the frames come at once, in order, right behind the 101.
test('connect-time subscriptions: the welcome and the subscribed frames follow the 101 at once', async (t) => {
  const s = await startServer();
  t.after(() => stopServer(s));
  const { status, socket, rest } = await rawUpgrade(s.port,
    { target: '/ws?channels=bench:1,bench:2', headers: { Authorization: `Bearer ${token()}` } });
  socket.destroy();
  assert.equal(status, 101);
  // rest is what came with the response head in the same read: unmasked
  // text frames, each under 64 KiB.
  const texts = [];
  for (let i = 0; i + 2 <= rest.length;) {
    assert.equal(rest[i], 0x81);
    let len = rest[i + 1];
    let start = i + 2;
    if (len === 126) {
      len = rest.readUInt16BE(i + 2);
      start += 2;
    }
    texts.push(JSON.parse(rest.subarray(start, start + len).toString()));
    i = start + len;
  }
  assert.deepEqual(texts.map((m) => [m.type, m.channel]),
    [['welcome', undefined], ['subscribed', 'bench:1'], ['subscribed', 'bench:2']]);
});

test('publish API: batches in order, NDJSON, all-or-nothing validation', async (t) => {
  const s = await startServer();
  t.after(() => stopServer(s));
  const a = await connectWelcomed(s);
  const b = await connectWelcomed(s);
  for (const ws of [a, b]) assert.equal((await ws.cmd({ action: 'subscribe', channel: 'project:p' })).type, 'subscribed');
  assert.equal((await b.cmd({ action: 'subscribe', channel: 'other' })).type, 'subscribed');

  const arr = await publish(s, [
    { channel: 'project:p', type: 'e.one', payload: 1 },
    { projectId: 'p', type: 'e.two', payload: [true, null] },
    { channel: 'other', type: 'e.three', payload: null },
    { channel: 'nobody', type: 'e.four' },
  ]);
  assert.deepEqual([arr.status, arr.body], [200, { published: 4 }]);
  assert.equal(arr.headers['content-type'], 'application/json');
  for (const ws of [a, b]) {
    assert.equal(await ws.next(), '{"type":"e.one","channel":"project:p","projectId":"p","payload":1}');
    assert.equal(await ws.next(), '{"type":"e.two","channel":"project:p","projectId":"p","payload":[true,null]}');
  }
  assert.equal(await b.next(), '{"type":"e.three","channel":"other","payload":null}');

  const nd = await publish(s, '{"channel":"project:p","type":"n.1"}\n\n{"channel":"project:p","type":"n.2","payload":{"k":"v"}}\n',
    { 'Content-Type': 'application/x-ndjson' });
  assert.deepEqual([nd.status, nd.body], [200, { published: 2 }]);
  assert.equal(await a.next(), '{"type":"n.1","channel":"project:p","projectId":"p"}');
  assert.equal(await a.next(), '{"type":"n.2","channel":"project:p","projectId":"p","payload":{"k":"v"}}');

  const before = await stats(s);
  assert.equal(before.published, 6);
  assert.equal(before.delivered, 2 * 2 + 1 + 2 * 2);
  const bad = await publish(s, [
    { channel: 'project:p', type: 'fine' },
    { channel: 'project:p', type: 'welcome' },
    { channel: 'bad channel', type: 'x' },
    { channel: 'project:p', type: 'x', colour: 'red' },
    { channel: 'project:p' },
    { type: 'x' },
    { channel: 'project:q', projectId: 'p', type: 'x' },
    { channel: 7, type: 'x' },
    'str',
  ]);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'invalid event');
  assert.deepEqual(bad.body.events.map((e) => e.index), [1, 2, 3, 4, 5, 6, 7, 8]);
  const mal = await publish(s, '[{"channel":"project:p","type":"x"');
  assert.equal(mal.status, 400);
  assert.equal(mal.body.error, 'malformed JSON');
  const malNd = await publish(s, '{"channel":"a","type":"x"}\n{oops\n', { 'Content-Type': 'application/x-ndjson' });
  assert.deepEqual([malNd.status, malNd.body.error, malNd.body.index], [400, 'malformed JSON', 1]);
  assert.deepEqual([(await publish(s, '')).status, (await publish(s, '[]')).body], [400, { error: 'no events' }]);
  // Over the 1 MiB limit: refused on the declared length, before the body is read.
  const big = await new Promise((resolve, reject) => {
    const req = http.request({ socketPath: s.socketPath, method: 'POST', path: '/v1/publish',
      headers: { 'Content-Type': 'application/json', 'Content-Length': 2 << 20 } }, (res) => {
      res.resume();
      resolve(res.statusCode);
      req.destroy();
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  assert.equal(big, 413);
  assert.equal((await api(s, 'GET', '/v1/publish')).status, 405);
  assert.equal((await api(s, 'POST', '/v1/stats')).status, 405);
  assert.equal((await api(s, 'GET', '/nope')).status, 404);
  assert.equal((await stats(s)).published, before.published, 'a rejected batch publishes nothing');
  assert.equal(await a.next(300).then(() => 'unexpected').catch(() => 'none'), 'none');
  a.close();
  b.close();
});

test('heartbeat: a client that never answers pings is terminated, one that does stays', async (t) => {
  const s = await startServer({ args: ['--heartbeat-interval', '150ms'] });
  t.after(() => stopServer(s));
  const good = await connectWelcomed(s);
  const mute = await rawUpgrade(s.port, { headers: { Authorization: `Bearer ${token()}` } });
  assert.equal(mute.status, 101);
  const closedAt = new Promise((resolve) => mute.socket.on('close', () => resolve(Date.now())));
  mute.socket.on('data', () => {}); // reads, never answers
  const start = Date.now();
  const when = await closedAt;
  assert.ok(when - start < 2000, 'terminated within a few intervals');
  await sleep(400);
  assert.equal(good.readyState, WebSocket.OPEN);
  assert.equal((await good.cmd({ action: 'ping', id: 1 })).type, 'pong');
  const st = await stats(s);
  assert.equal(st.connections, 1);
  assert.ok(st.transport.heartbeat_timeout >= 1);
  good.close();
});

test('slow consumer: a client that stops reading is closed with 4001', async (t) => {
  const s = await startServer();
  t.after(() => stopServer(s));
  const slow = await rawUpgrade(s.port, { headers: { Authorization: `Bearer ${token()}` } });
  assert.equal(slow.status, 101);
  slow.socket.write(clientFrame(JSON.stringify({ action: 'subscribe', channel: 'firehose' })));
  await waitFor('subscription', async () => (await stats(s)).subscriptions === 1);
  slow.socket.pause(); // stop reading: kernel buffers fill, then ws's

  const fast = await connectWelcomed(s);
  assert.equal((await fast.cmd({ action: 'subscribe', channel: 'firehose' })).type, 'subscribed');
  let got = 0;
  fast.addEventListener('message', () => { got++; });

  const payload = 'z'.repeat(512 * 1024);
  let sent = 0;
  for (; sent < 200; sent++) {
    assert.equal((await publish(s, { channel: 'firehose', type: 'big', payload })).status, 200);
    if ((await stats(s)).transport.slow_consumer_closed > 0) break;
  }
  const st = await stats(s);
  assert.equal(st.transport.slow_consumer_closed, 1, `closed after ${sent + 1} publishes`);
  assert.equal(st.subscriptions, 1, 'the slow client left its channels at once');
  assert.ok(st.dropped >= 1);

  // Reading again, the slow client finds the 4001 close frame after its backlog.
  let buf = Buffer.alloc(0);
  const code = await new Promise((resolve) => {
    slow.socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let off = 0;
      while (buf.length - off >= 2) {
        let len = buf[off + 1] & 0x7f;
        let hl = 2;
        if (len === 126) { if (buf.length - off < 4) break; len = buf.readUInt16BE(off + 2); hl = 4; }
        else if (len === 127) { if (buf.length - off < 10) break; len = Number(buf.readBigUInt64BE(off + 2)); hl = 10; }
        if (buf.length - off < hl + len) break;
        if ((buf[off] & 0x0f) === 0x8) resolve(buf.readUInt16BE(off + hl));
        off += hl + len;
      }
      buf = buf.subarray(off);
    });
    slow.socket.resume();
  });
  assert.equal(code, 4001);
  await waitFor('fast client got every event', () => got === sent + 1);
  fast.close();
});

test('SIGTERM closes clients with 1001 and removes the socket; a stale socket is replaced', async () => {
  const s = await startServer();
  const ws = await connectWelcomed(s);
  assert.equal(await stopServer(s, 'SIGTERM'), 0);
  assert.equal((await ws.closed).code, 1001);
  assert.equal(existsSync(s.socketPath), false);

  const s2 = await startServer({ socketPath: s.socketPath });
  assert.equal(await stopServer(s2, 'SIGKILL'), 'SIGKILL');
  assert.equal(existsSync(s2.socketPath), true, 'a killed server leaves its socket file');
  const s3 = await startServer({ socketPath: s.socketPath });
  assert.equal((await stats(s3)).pid, s3.proc.pid);
  // ...but a live server's socket is never taken over.
  await assert.rejects(startServer({ socketPath: s.socketPath }), /another process/);
  assert.equal(await stopServer(s3), 0);
});
