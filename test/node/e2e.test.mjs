// End-to-end tests of the fanoutd binary with Node's built-in WebSocket
// client (undici), a client we did not write. Run from the repository root:
//
//   node --test --experimental-websocket test/node/
//
// FANOUTD_BIN=/path/to/fanoutd skips the `go build`.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';

import {
  buildDaemon, claims, closeClient, getStats, mintJWT, nextMessage, ofType, openClient, pending, positionless,
  publishedCount,
  publish, rawUpgrade, receivedAtOf, removeTempDirs, send, startDaemon, stopDaemon,
  tryRejectedClient, waitFor,
} from './helpers.mjs';

if (typeof WebSocket === 'undefined') {
  throw new Error('no global WebSocket: run node with --experimental-websocket (Node 20)');
}

const TEST = { timeout: 15_000 };
const SECRET = randomBytes(32).toString('hex'); // 64 bytes, over the 32-byte minimum
const OTHER_SECRET = randomBytes(32).toString('hex');

let bin;
let dev; // --dev daemon: random secret, dev token from the banner
let sec; // daemon with FANOUTD_AUTH_HMAC_SECRET=SECRET: tokens minted here
const daemons = [];
const clients = new Set();

async function start(opts) {
  const d = await startDaemon(bin, opts);
  daemons.push(d);
  return d;
}

/** openClient, remembered so that every test's clients get closed. */
async function connect(url, protocols) {
  const ws = await openClient(url, protocols);
  clients.add(ws);
  return ws;
}

async function closeAll() {
  await Promise.all([...clients].map((ws) => closeClient(ws)));
  clients.clear();
}

const bearer = (token) => ['fanout.v1', `bearer.${token}`];
const withToken = (url, token) => `${url}?token=${encodeURIComponent(token)}`;
const jwtClaims = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

before(async () => {
  bin = await buildDaemon();
  // allSettled: a daemon that did start is in `daemons` before after() runs.
  const started = await Promise.allSettled([start({ dev: true }), start({ secret: SECRET })]);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  [dev, sec] = started.map((r) => r.value);
}, { timeout: 55_000 });

after(async () => {
  await closeAll();
  const results = await Promise.all(daemons.map(stopDaemon));
  results.forEach((r, i) => {
    if (r && (r.killed || r.code !== 0)) {
      console.log(`fanoutd #${i} did not stop cleanly on SIGTERM: ${JSON.stringify(r)}\n${daemons[i].output()}`);
    }
  });
  removeTempDirs();
});

test('dev mode: subprotocol carrier, subscribe, publish over the Unix socket, event arrives', TEST, async (t) => {
  t.after(closeAll);
  assert.deepEqual({ sub: jwtClaims(dev.token).sub, channels: jwtClaims(dev.token).channels },
    { sub: 'dev', channels: ['*'] }, 'dev token claims');

  const ws = await connect(dev.wsUrl, bearer(dev.token));
  assert.equal(ws.protocol, 'fanout.v1', 'server echoes only fanout.v1, never the bearer protocol');

  const welcome = await nextMessage(ws, () => true);
  assert.equal(welcome.type, 'welcome', `first message is the welcome: ${JSON.stringify(welcome)}`);
  assert.equal(welcome.user, 'dev');
  assert.equal(welcome.protocol, 'fanout.v1');
  assert.equal(typeof welcome.connection_id, 'string');
  assert.ok(welcome.connection_id.length > 0);

  send(ws, { action: 'subscribe', channel: 'project:abc-123', id: '1' });
  assert.deepEqual(positionless(await nextMessage(ws, ofType('subscribed'))),
    { type: 'subscribed', channel: 'project:abc-123', id: '1' });

  const payload = { storyId: '6-5', status: 'done' };
  const arrived = nextMessage(ws, ofType('story.status.changed'));
  const t0 = performance.now();
  const res = await publish(dev.socketPath, { channel: 'project:abc-123', type: 'story.status.changed', payload });
  assert.equal(res.status, 200, res.body);
  assert.equal(publishedCount(res.json), 1);

  const httpDone = performance.now();

  const ev = await arrived;
  console.log(`publish -> WebSocket delivery latency: ${(receivedAtOf(ev) - t0).toFixed(2)} ms ` +
    `(publish HTTP round trip ${(httpDone - t0).toFixed(2)} ms; first request of this process, so Node warm-up included)`);
  assert.deepEqual(positionless(ev), {
    type: 'story.status.changed', channel: 'project:abc-123', projectId: 'abc-123', payload,
  });
  assert.equal(ev.offset, res.json.positions[0].offset, 'the event carries the position the publish returned');
  assert.equal(ev.epoch, res.json.positions[0].epoch);
});

test('query-string carrier and ADR projectId subscribe', TEST, async (t) => {
  t.after(closeAll);
  const ws = await connect(withToken(dev.wsUrl, dev.token));
  assert.equal(ws.protocol, '', 'no subprotocol offered, none selected');
  assert.equal((await nextMessage(ws, () => true)).type, 'welcome');

  send(ws, { action: 'subscribe', projectId: 'adr-7', id: '2' });
  assert.deepEqual(positionless(await nextMessage(ws, ofType('subscribed'))),
    { type: 'subscribed', channel: 'project:adr-7', projectId: 'adr-7', id: '2' });

  // Published with the channel spelling, then with the ADR projectId spelling.
  let res = await publish(dev.socketPath, { channel: 'project:adr-7', type: 'story.created', payload: { n: 1 } });
  assert.equal(res.status, 200, res.body);
  assert.equal(publishedCount(res.json), 1);
  res = await publish(dev.socketPath, { projectId: 'adr-7', type: 'story.created', payload: { n: 2 } });
  assert.equal(res.status, 200, res.body);
  assert.equal(publishedCount(res.json), 1);

  for (const n of [1, 2]) {
    const m = await nextMessage(ws, ofType('story.created'));
    assert.deepEqual(positionless(m), { type: 'story.created', channel: 'project:adr-7', projectId: 'adr-7', payload: { n } });
    assert.equal(m.offset, n, 'offsets count the channel\'s events from 1');
  }
});

test('batch array publish and NDJSON publish arrive in order', TEST, async (t) => {
  t.after(closeAll);
  const channel = 'project:batch-1';
  const ws = await connect(dev.wsUrl, bearer(dev.token));
  await nextMessage(ws, ofType('welcome'));
  send(ws, { action: 'subscribe', channel, id: 'b' });
  await nextMessage(ws, ofType('subscribed', { id: 'b' }));

  const ev = (seq, via) => ({ channel, type: 'story.status.changed', payload: { seq, via } });
  let res = await publish(dev.socketPath, [ev(1, 'array'), ev(2, 'array'), ev(3, 'array')]);
  assert.equal(res.status, 200, res.body);
  assert.equal(publishedCount(res.json), 3);

  const ndjson = [ev(4, 'ndjson'), ev(5, 'ndjson'), ev(6, 'ndjson')].map((e) => JSON.stringify(e)).join('\n') + '\n';
  res = await publish(dev.socketPath, ndjson, 'application/x-ndjson');
  assert.equal(res.status, 200, res.body);
  assert.equal(publishedCount(res.json), 3);

  const got = [];
  for (let i = 0; i < 6; i++) got.push((await nextMessage(ws, ofType('story.status.changed'))).payload);
  assert.deepEqual(got, [
    { seq: 1, via: 'array' }, { seq: 2, via: 'array' }, { seq: 3, via: 'array' },
    { seq: 4, via: 'ndjson' }, { seq: 5, via: 'ndjson' }, { seq: 6, via: 'ndjson' },
  ]);
});

test('401 before upgrade for a missing, expired or forged token', TEST, async (t) => {
  const expired = mintJWT(SECRET, claims('user-1', ['*'], -60));
  const forged = mintJWT(OTHER_SECRET, claims('user-1', ['*']));
  const valid = mintJWT(SECRET, claims('user-1', ['*']));

  // Positive control: the same raw request with a good token is upgraded.
  const ok = await rawUpgrade(sec.port, { headers: { Authorization: `Bearer ${valid}` } });
  assert.equal(ok.statusCode, 101, 'a valid token is upgraded');

  const cases = [
    { name: 'missing', url: sec.wsUrl, protocols: undefined, auth: undefined, reason: 'missing token' },
    { name: 'expired', url: sec.wsUrl, protocols: bearer(expired), auth: `Bearer ${expired}`, reason: 'token expired' },
    { name: 'forged', url: withToken(sec.wsUrl, forged), protocols: ['fanout.v1'], auth: `Bearer ${forged}`, reason: 'invalid token' },
  ];

  const seen = await Promise.all(cases.map((c) => tryRejectedClient(c.url, c.protocols)));
  for (const [i, c] of cases.entries()) {
    const s = seen[i];
    assert.equal(s.opened, false, `${c.name}: WebSocket must not open`);
    assert.equal(s.errored, true, `${c.name}: WebSocket fires 'error'`);
    if (s.close) {
      assert.equal(s.close.code, 1006, `${c.name}: close code`);
      assert.equal(s.close.wasClean, false, `${c.name}: not a clean close`);
      assert.deepEqual(s.order, ['error', 'close'], `${c.name}: event order`);
    } else {
      // Not the daemon: the undici bundled with Node 20 never fires
      // 'close' after a failed handshake (nodejs/undici#3546). Said, not hidden.
      t.diagnostic(`${c.name}: no 'close' event from undici ${process.versions.undici} ` +
        `after the failed handshake (client bug nodejs/undici#3546); close code not checked`);
      assert.notEqual(s.readyState, WebSocket.OPEN, `${c.name}: not open`);
    }

    const headers = c.auth ? { Authorization: c.auth } : {};
    const res = await rawUpgrade(sec.port, { headers });
    assert.equal(res.statusCode, 401, `${c.name}: HTTP status`);
    assert.equal(res.body.trim(), c.reason, `${c.name}: response body`);
  }
});

test('forbidden channel: error frame with the id, connection stays open', TEST, async (t) => {
  t.after(closeAll);
  const token = mintJWT(SECRET, claims('user-1', ['project:*']));
  const ws = await connect(sec.wsUrl, bearer(token));
  assert.equal(ws.protocol, 'fanout.v1');
  const welcome = await nextMessage(ws, () => true);
  assert.equal(welcome.type, 'welcome');
  assert.equal(welcome.user, 'user-1');

  send(ws, { action: 'subscribe', channel: 'admin:x', id: 'f1' });
  const err = await nextMessage(ws, ofType('error'));
  assert.equal(err.code, 'forbidden');
  assert.equal(err.id, 'f1');

  send(ws, { action: 'ping', id: 'p1' });
  assert.deepEqual(await nextMessage(ws, ofType('pong')), { type: 'pong', id: 'p1' });
  assert.equal(ws.readyState, WebSocket.OPEN);

  // An allowed channel still works on the same connection...
  send(ws, { action: 'subscribe', channel: 'project:abc-123', id: 's1' });
  assert.deepEqual(positionless(await nextMessage(ws, ofType('subscribed'))),
    { type: 'subscribed', channel: 'project:abc-123', id: 's1' });

  // ...and the refused one really is not subscribed: publish to it first; the
  // connection's queue is FIFO, so an admin:x event would precede this one.
  let res = await publish(sec.socketPath, { channel: 'admin:x', type: 'secret.thing', payload: { x: 1 } });
  assert.equal(res.status, 200, res.body);
  res = await publish(sec.socketPath, { channel: 'project:abc-123', type: 'story.created', payload: { y: 1 } });
  assert.equal(res.status, 200, res.body);
  const ev = await nextMessage(ws, (m) => m.type === 'story.created' || m.type === 'secret.thing');
  assert.equal(ev.type, 'story.created', `no admin:x event may be delivered: ${JSON.stringify(ev)}`);
  assert.deepEqual(pending(ws), []);
});

test('application ping/pong and malformed JSON', TEST, async (t) => {
  t.after(closeAll);
  const ws = await connect(dev.wsUrl, bearer(dev.token));
  await nextMessage(ws, ofType('welcome'));

  send(ws, { action: 'ping', id: '3' });
  assert.deepEqual(await nextMessage(ws, ofType('pong')), { type: 'pong', id: '3' });
  send(ws, { action: 'ping', id: 42 });
  assert.deepEqual(await nextMessage(ws, ofType('pong')), { type: 'pong', id: 42 });

  send(ws, '{"action":"subscribe","channel":');
  let err = await nextMessage(ws, ofType('error'));
  assert.equal(err.code, 'bad_request', JSON.stringify(err));
  assert.equal(err.id, undefined, 'no id can be recovered from malformed JSON');

  send(ws, 'not json at all');
  err = await nextMessage(ws, ofType('error'));
  assert.equal(err.code, 'bad_request', JSON.stringify(err));

  send(ws, { action: 'ping', id: '4' });
  assert.deepEqual(await nextMessage(ws, ofType('pong')), { type: 'pong', id: '4' });
  assert.equal(ws.readyState, WebSocket.OPEN);
  assert.deepEqual(pending(ws), []);
});

test('stats reflect connections, subscriptions and deliveries', TEST, async (t) => {
  t.after(closeAll);
  const d = await start({ dev: true }); // fresh daemon: counters start at zero
  const counters = (s) => ({
    connections: s.connections, subscriptions: s.subscriptions, channels: s.channels,
    published: s.published, delivered: s.delivered,
  });
  const zero = { connections: 0, subscriptions: 0, channels: 0, published: 0, delivered: 0 };
  assert.deepEqual(counters(await getStats(d.socketPath)), zero);

  const a = await connect(d.wsUrl, bearer(d.token));
  await nextMessage(a, ofType('welcome'));
  let s = await getStats(d.socketPath);
  assert.equal(s.connections, 1);
  assert.equal(s.transport?.conns, 1, `transport.conns: ${JSON.stringify(s.transport)}`);

  send(a, { action: 'subscribe', channel: 'project:s1', id: '1' });
  send(a, { action: 'subscribe', channel: 'team:s2', id: '2' });
  send(a, { action: 'subscribe', channel: 'team:s2', id: '3' }); // duplicate: acknowledged, not counted
  for (const id of ['1', '2', '3']) await nextMessage(a, ofType('subscribed', { id }));
  assert.deepEqual(counters(await getStats(d.socketPath)),
    { connections: 1, subscriptions: 2, channels: 2, published: 0, delivered: 0 });

  const b = await connect(withToken(d.wsUrl, d.token));
  await nextMessage(b, ofType('welcome'));
  send(b, { action: 'subscribe', channel: 'project:s1', id: '1' });
  await nextMessage(b, ofType('subscribed'));
  assert.deepEqual(counters(await getStats(d.socketPath)),
    { connections: 2, subscriptions: 3, channels: 2, published: 0, delivered: 0 });

  // One event to two subscribers, one to a channel nobody listens on (which
  // then exists for its history: 3 channels).
  assert.equal((await publish(d.socketPath, { channel: 'project:s1', type: 'x.y', payload: 1 })).status, 200);
  assert.equal((await publish(d.socketPath, { channel: 'nobody:here', type: 'x.y', payload: 2 })).status, 200);
  await Promise.all([nextMessage(a, ofType('x.y')), nextMessage(b, ofType('x.y'))]);
  assert.deepEqual(counters(await getStats(d.socketPath)),
    { connections: 2, subscriptions: 3, channels: 3, published: 2, delivered: 2 });

  send(a, { action: 'unsubscribe', channel: 'team:s2', id: 'u' });
  assert.deepEqual(await nextMessage(a, ofType('unsubscribed')), { type: 'unsubscribed', channel: 'team:s2', id: 'u' });
  assert.deepEqual(counters(await getStats(d.socketPath)),
    { connections: 2, subscriptions: 2, channels: 2, published: 2, delivered: 2 });

  // Closing is asynchronous on the server side: poll, bounded.
  await closeClient(a);
  await closeClient(b);
  const final = await waitFor(async () => {
    const v = counters(await getStats(d.socketPath));
    return { ok: v.connections === 0 && v.subscriptions === 0 && v.channels === 2, value: v };
  }, { what: 'counters back to zero after both clients closed' });
  // The two channels that got events stay for their history (history.ttl).
  assert.deepEqual(final, { connections: 0, subscriptions: 0, channels: 2, published: 2, delivered: 2 });
});

test('SIGTERM: open WebSockets get close 1001, daemon exits 0 and removes its socket', TEST, async () => {
  const d = await start({ dev: true });
  const ws = await connect(d.wsUrl, bearer(d.token));
  await nextMessage(ws, ofType('welcome'));
  const closed = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no close event within 5 s of SIGTERM')), 5000);
    ws.addEventListener('close', (ev) => { clearTimeout(timer); resolve(ev); }, { once: true });
  });

  const stopped = await stopDaemon(d);
  assert.deepEqual(stopped, { code: 0, signal: null, killed: false }, d.output());
  const ev = await closed;
  assert.equal(ev.code, 1001, `close code (reason ${JSON.stringify(ev.reason)})`);
  assert.equal(existsSync(d.socketPath), false, 'socket file removed');
});
