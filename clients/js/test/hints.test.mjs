// The client's second round against a real fanoutd (issue 18): the first
// subscribe invalidates bound queries, the drain's reconnect hint is
// honoured, nothing is tried while offline and the return online is acted
// on at once, getToken can say "logged out", and the application ping keeps
// one timer however long the connection lives.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import { bindQueries, FanoutClient, LOGGED_OUT } from '../index.js';
import {
  client, collector, freePort, lifecycle, nextState, publish, stopDaemon, token,
} from './helpers.mjs';

const { start, track } = lifecycle();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP proxy to targetPort that logs when each connection arrives (ms since the epoch). */
async function loggingProxy(targetPort) {
  const arrivals = [];
  const sockets = new Set();
  const server = net.createServer((down) => {
    arrivals.push(Date.now());
    const up = net.connect(targetPort(), '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    down.pipe(up);
    up.pipe(down);
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    arrivals,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

describe('bindQueries', () => {
  test('the first subscribed invalidates the bound queries: an event published before it reached nobody', async () => {
    const d = await start();
    const c = track(client(d));
    const invalidated = collector();
    const subscribed = collector();
    c.on('subscribed', subscribed);
    // The application fetched its state, then an event was published before
    // the subscription was in place: only an invalidation can catch it up.
    await publish(d.socketPath, { channel: 'project:race', type: 'story.status.changed' });
    bindQueries(c, { invalidateQueries: invalidated }, { channel: 'project:race', queryKeys: [['stories', 'race']] });
    c.connect();
    await subscribed.until(1);
    assert.deepEqual(invalidated.items, [{ queryKey: ['stories', 'race'] }]);
    c.close();
  });

  test('with since and recovered:true there is nothing to refetch; a missed frame of another channel is ignored', async () => {
    const d = await start();
    await publish(d.socketPath, [{ channel: 'project:s', type: 'a' }, { channel: 'project:s', type: 'b' }]);
    const probe = track(client(d));
    const first = new Promise((r) => probe.subscribe('project:s', () => {}, { onSubscribed: r }));
    probe.connect();
    const { epoch } = await first;
    probe.close();
    const c = track(client(d));
    const invalidated = collector();
    const got = collector();
    bindQueries(c, { invalidateQueries: invalidated }, {
      channel: 'project:s', queryKeys: [['s']], since: { offset: 1, epoch }, on: {},
    });
    c.subscribe('project:s', got);
    c.connect();
    await got.until(1);
    assert.equal(got.items[0].offset, 2, 'resumed after the position given');
    c._frame({ type: 'missed', channel: 'project:other' });
    c._frame({ type: 'missed', channel: 'project:s' });
    assert.deepEqual(invalidated.items, [{ queryKey: ['s'] }], 'only the missed frame of its channel');
    c.close();
  });
});

describe('the drain hint', () => {
  test('a draining daemon\'s reconnect_after_ms is waited for, not the backoff', async () => {
    const d = await start({ env: { FANOUTD_DRAIN_WINDOW: '100ms', FANOUTD_DRAIN_RECONNECT_AFTER: '800ms' } });
    // The next daemon listens before the first one stops, so that the
    // client's one attempt finds it however slow the machine is.
    const next = await start();
    let target = d;
    const proxy = await loggingProxy(() => target.port);
    const c = track(client(d, { url: `ws://127.0.0.1:${proxy.port}/ws`, backoff: { initialMs: 50, maxMs: 50 } }));
    const closes = collector();
    c.on('close', (info) => closes({ ...info, at: Date.now() }));
    const infos = collector();
    c.subscribe('project:d', () => {}, { onSubscribed: infos });
    c.connect();
    await infos.until(1);
    target = next;
    const stopped = stopDaemon(d);
    const [closed] = await closes.until(1, 5000);
    const hint = JSON.parse(closed.reason).reconnect_after_ms;
    assert.ok(hint >= 800 && hint < 1600, `hint ${hint} ms from ${closed.reason}`);
    await stopped;
    await infos.until(2, 5000);
    const waited = proxy.arrivals[1] - closed.at;
    console.log(`drain hint ${hint} ms: reconnected ${waited} ms after the close`);
    assert.equal(proxy.arrivals.length, 2, 'one attempt, after the hint');
    assert.ok(waited >= hint - 5, `reconnected after ${waited} ms, before the hint's ${hint} ms`);
    c.close();
    await proxy.close();
  });
});

describe('offline awareness', () => {
  test('no attempt while offline; back online, it reconnects at once', async () => {
    const d = await start();
    const win = new EventTarget();
    win.navigator = { onLine: true };
    let attempts = 0;
    const WS = class extends WebSocket {
      constructor(...args) {
        super(...args);
        attempts++;
      }
    };
    const port = await freePort();
    const c = track(client(d, {
      url: `ws://127.0.0.1:${port}/ws`, window: win, WebSocket: WS, backoff: { initialMs: 20, maxMs: 20 }, sse: false,
    }));
    c.connect();
    await nextState(c, 'reconnecting');
    win.navigator.onLine = false;
    win.dispatchEvent(new Event('offline'));
    assert.equal(c.state, 'offline');
    const before = attempts;
    await sleep(300); // fifteen backoff periods
    assert.equal(attempts, before, 'no attempt while offline');
    c.close();

    // A connection that ends while offline waits for the network too.
    const c2 = track(client(d, { window: win, WebSocket: WS }));
    win.navigator.onLine = true;
    c2.connect();
    await nextState(c2, 'open');
    win.navigator.onLine = false;
    const offline = nextState(c2, 'offline');
    const port2 = d.port;
    await stopDaemon(d);
    await offline;
    const d2 = await start({ args: ['--listen', `127.0.0.1:${port2}`] });
    const n = attempts;
    await sleep(200);
    assert.equal(attempts, n, 'no attempt while offline');
    win.navigator.onLine = true;
    const t0 = Date.now();
    const open = nextState(c2, 'open', 1000);
    win.dispatchEvent(new Event('online'));
    await open;
    console.log(`back online: open again after ${Date.now() - t0} ms`);
    c2.close();
    await stopDaemon(d2);
  });
});

describe('a tab that wakes up', () => {
  test('visibilitychange to visible cuts a long wait short', async () => {
    const port = await freePort();
    const win = new EventTarget();
    win.document = { visibilityState: 'hidden' };
    const c = track(new FanoutClient({
      url: `ws://127.0.0.1:${port}/ws`, getToken: async () => token(), window: win, shared: false, sse: false,
      backoff: { initialMs: 60000, maxMs: 60000 }, random: () => 0.99,
    }));
    const waiting = nextState(c, 'reconnecting');
    c.connect();
    assert.ok((await waiting).delayMs > 50000);
    const d = await start({ args: ['--listen', `127.0.0.1:${port}`] });
    const opened = nextState(c, 'open', 3000);
    win.document.visibilityState = 'visible';
    win.dispatchEvent(new Event('visibilitychange'));
    await opened;
    c.close();
    await stopDaemon(d);
  });
});

describe('getToken outcomes', () => {
  for (const [name, outcome] of [['returns null', async () => null], ['throws LOGGED_OUT', async () => { throw LOGGED_OUT; }]]) {
    test(`getToken ${name}: the client stops, closed with loggedOut`, async () => {
      const d = await start();
      const c = track(client(d, { getToken: outcome }));
      const states = collector();
      c.onState(states);
      c.connect();
      await states.until(2);
      await sleep(100);
      assert.deepEqual(states.items.map((e) => e.state), ['connecting', 'closed']);
      assert.equal(states.items[1].loggedOut, true);
      assert.equal(states.items[1].terminal, true);
      assert.ok(LOGGED_OUT, 'the sentinel is exported');
    });
  }

  test('null at a refresh closes the open connection for good', async () => {
    const d = await start({ env: { FANOUTD_AUTH_EXPIRY_WARNING: '3s' } });
    let calls = 0;
    const c = track(client(d, { getToken: async () => (++calls === 1 ? token(5) : null) }));
    c.connect();
    await nextState(c, 'open');
    const closed = await nextState(c, 'closed', 8000);
    assert.equal(closed.loggedOut, true);
    assert.equal(calls, 2);
  });
});

describe('the application ping', () => {
  test('keeps one timer, however many pings', async () => {
    const d = await start();
    const c = track(client(d, { pingIntervalMs: 5, pongTimeoutMs: 60000 }));
    c.connect();
    await nextState(c, 'open');
    // Count the timers this client leaves pending over a hundred pings.
    const pending = new Set();
    const { setTimeout: st, clearTimeout: ct, setInterval: si, clearInterval: ci } = globalThis;
    globalThis.setTimeout = (f, ms, ...a) => {
      const t = st((...x) => { pending.delete(t); f(...x); }, ms, ...a);
      pending.add(t);
      return t;
    };
    globalThis.clearTimeout = (t) => { pending.delete(t); ct(t); };
    globalThis.setInterval = (f, ms, ...a) => { const t = si(f, ms, ...a); pending.add(t); return t; };
    globalThis.clearInterval = (t) => { pending.delete(t); ci(t); };
    let pongs = 0;
    c.on('pong', () => { pongs++; });
    try {
      await new Promise((r) => st(r, 1000));
    } finally {
      Object.assign(globalThis, { setTimeout: st, clearTimeout: ct, setInterval: si, clearInterval: ci });
    }
    assert.ok(pongs >= 10, `${pongs} pongs`);
    assert.ok(pending.size <= 1, `${pending.size} timers pending after ${pongs} pings`);
    c.close();
  });
});
