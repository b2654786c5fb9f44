// The client against a real fanoutd: reconnects, resume from positions,
// terminal close codes, token refresh, dead links. Run with
// `node --test --experimental-websocket clients/js/test/` (the flag is for
// Node 20's WebSocket).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffBound, backoffDelay, bindQueries, DEFAULT_BACKOFF, FanoutClient } from '../index.js';
import {
  client, collector, freePort, lifecycle, nextState, publish, tcpProxy, stopDaemon, token,
} from './helpers.mjs';

const { start, track } = lifecycle();

const event = (channel, n) => ({ channel, type: 'story.status.changed', payload: { n } });

/**
 * A WebSocket class that records the URLs it opens, its sockets and the
 * commands sent; rewrite(url) changes the URL actually dialled.
 */
function recordingWebSocket(rewrite = (url) => url) {
  const rec = { urls: [], sockets: [], sent: [] };
  rec.WebSocket = class extends WebSocket {
    constructor(url, protocols) { super(rewrite(url), protocols); rec.urls.push(url); rec.sockets.push(this); }
    send(data) { rec.sent.push(JSON.parse(data)); super.send(data); }
  };
  rec.subscribes = () => rec.sent.filter((m) => m.action === 'subscribe').map((m) => m.channel);
  return rec;
}

describe('backoff', () => {
  test('defaults: 0.5 s doubling to 20 s', () => {
    assert.deepEqual({ ...DEFAULT_BACKOFF }, { initialMs: 500, maxMs: 20000, factor: 2 });
    const bounds = Array.from({ length: 9 }, (_, n) => backoffBound(n));
    assert.deepEqual(bounds, [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000]);
  });

  test('full jitter: uniform in [0, bound)', () => {
    for (let n = 0; n < 10; n++) {
      const bound = backoffBound(n);
      assert.equal(backoffDelay(n, DEFAULT_BACKOFF, () => 0), 0);
      assert.equal(backoffDelay(n, DEFAULT_BACKOFF, () => 0.5), Math.floor(bound / 2));
      assert.equal(backoffDelay(n, DEFAULT_BACKOFF, () => 0.999999), Math.floor(0.999999 * bound));
    }
    let seed = 1;
    const lcg = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const seen = new Set();
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(3, DEFAULT_BACKOFF, lcg);
      assert.ok(d >= 0 && d < 4000, `delay ${d} outside [0, 4000)`);
      seen.add(Math.floor(d / 400));
    }
    assert.equal(seen.size, 10, 'the delays cover every tenth of the window');
  });

  test('the client waits the jittered delays while the daemon is unreachable', async () => {
    const port = await freePort();
    const randoms = [0.5, 0.25, 0.999, 0.5, 0.1, 0.5];
    let i = 0;
    const c = track(new FanoutClient({
      url: `ws://127.0.0.1:${port}/ws`,
      getToken: async () => token(),
      backoff: { initialMs: 20, maxMs: 100, factor: 2 },
      random: () => randoms[i++ % randoms.length],
      sse: false,
    }));
    const delays = [];
    const done = new Promise((resolve) => c.onState((e) => {
      if (e.state !== 'reconnecting') return;
      delays.push(e.delayMs);
      if (delays.length === 6) resolve();
    }));
    c.connect();
    await done;
    c.close();
    // bounds 20, 40, 80, 100 (capped), 100, 100
    assert.deepEqual(delays, [10, 10, 79, 50, 10, 50]);
    assert.equal(c.state, 'closed');
  });

  test('the online event cuts a long wait short', async () => {
    const port = await freePort();
    const online = new EventTarget();
    const c = track(new FanoutClient({
      url: `ws://127.0.0.1:${port}/ws`,
      getToken: async () => token(),
      backoff: { initialMs: 60000, maxMs: 60000 },
      random: () => 0.99,
      window: online,
      sse: false,
    }));
    const waiting = nextState(c, 'reconnecting');
    c.connect();
    assert.ok((await waiting).delayMs > 50000);
    const d = await start({ args: ['--listen', `127.0.0.1:${port}`] });
    const opened = nextState(c, 'open', 3000);
    online.dispatchEvent(new Event('online'));
    await opened;
    c.close();
    await stopDaemon(d);
  });
});

describe('against fanoutd', () => {
  test('events by channel and by type; unsubscribe stops them', async () => {
    const d = await start();
    const c = track(client(d));
    const byChannel = collector();
    const byType = collector();
    const any = collector();
    c.on('story.status.changed', byType);
    c.on('*', any);
    const subscribed = new Promise((r) => c.on('subscribed', r));
    const off = c.subscribe('project:a', byChannel);
    c.connect();
    await subscribed;
    await publish(d.socketPath, [event('project:a', 1), { channel: 'project:a', type: 'pr.merged' }]);
    await byChannel.until(2);
    assert.deepEqual(byChannel.items.map((e) => e.type), ['story.status.changed', 'pr.merged']);
    assert.deepEqual(byChannel.items.map((e) => e.offset), [1, 2]);
    assert.equal(byType.items.length, 1);
    await any.until(2);
    assert.deepEqual(c.position('project:a'), { offset: 2, epoch: byChannel.items[1].epoch });

    const unsubscribed = new Promise((r) => c.on('unsubscribed', r));
    off();
    await unsubscribed;
    await publish(d.socketPath, event('project:a', 3));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(byChannel.items.length, 2);
    assert.equal(c.position('project:a'), null);
    c.close();
  });

  test('channels known at connect are subscribed in the URL, with their positions, and no command is sent', async () => {
    const d = await start();
    const { WebSocket: Recording, urls, sockets, subscribes } = recordingWebSocket();
    const c = track(client(d, { WebSocket: Recording, sse: false }));
    const got = collector();
    const infos = collector();
    c.subscribe('project:u', got, { onSubscribed: infos });
    c.subscribe('project:v,w', () => {}, { onSubscribed: infos });
    c.connect();
    await infos.until(2);
    await publish(d.socketPath, [event('project:u', 1), event('project:u', 2)]);
    await got.until(2);
    const first = new URL(urls[0]);
    assert.deepEqual(first.searchParams.getAll('channel'), ['project:u', 'project:v,w']);
    assert.equal(first.searchParams.get('last_event_id'), null, 'no position yet');
    assert.deepEqual(subscribes(), []);

    // A reconnect names the position reached, and resumes from it.
    sockets[0].close(4000, 'test');
    await publish(d.socketPath, event('project:u', 3));
    await infos.until(4);
    await got.until(3);
    const second = new URL(urls[1]);
    const [u, vw] = infos.items;
    assert.equal(second.searchParams.get('last_event_id'), `project:u 2 ${u.epoch} project:v,w 0 ${vw.epoch}`);
    const resumed = infos.items.slice(2).find((i) => i.channel === 'project:u');
    assert.equal(resumed.recovered, true);
    assert.deepEqual(got.items.map((e) => e.offset), [1, 2, 3]);
    assert.deepEqual(subscribes(), []);
  });

  test('subscribeInURL: false keeps channel names out of the URL and subscribes by command', async () => {
    const d = await start();
    const { WebSocket: Recording, urls, subscribes } = recordingWebSocket();
    const c = track(client(d, { WebSocket: Recording, sse: false, subscribeInURL: false }));
    const got = collector();
    const infos = collector();
    c.subscribe('project:q', got, { onSubscribed: infos });
    c.connect();
    await infos.until(1);
    await publish(d.socketPath, event('project:q', 1));
    await got.until(1);
    assert.equal(new URL(urls[0]).search, '');
    assert.deepEqual(subscribes(), ['project:q']);
  });

  test('a daemon that ignores the URL channels (no url_channels in its welcome) gets subscribe commands', async () => {
    const d = await start();
    const { WebSocket: Older, subscribes } = recordingWebSocket((url) => {
      const u = new URL(url);
      u.search = '';
      return u.href;
    });
    const c = track(client(d, { WebSocket: Older, sse: false }));
    const got = collector();
    const infos = collector();
    c.subscribe('project:o', got, { onSubscribed: infos });
    c.connect();
    await infos.until(1);
    await publish(d.socketPath, event('project:o', 1));
    await got.until(1);
    assert.deepEqual(subscribes(), ['project:o']);
  });

  test('after a daemon-side close (4003) it reconnects with a new token and resumes from its position', async () => {
    const d = await start({ env: { FANOUTD_AUTH_EXPIRY_WARNING: '1s' } });
    let calls = 0;
    const c = track(client(d, {
      // The second call is the refresh: refuse it, so the token runs out and
      // the daemon closes with 4003.
      getToken: async () => {
        calls++;
        if (calls === 2) throw new Error('token service down');
        return token(2);
      },
      backoff: { initialMs: 1000, maxMs: 1000 },
      random: () => 0.5,
    }));
    const got = collector();
    const infos = collector();
    c.subscribe('project:r', got, { onSubscribed: infos });
    const closes = collector();
    c.on('close', closes);
    c.connect();
    await infos.until(1);
    await publish(d.socketPath, [event('project:r', 1), event('project:r', 2)]);
    await got.until(2);

    const closed = await closes.until(1, 5000);
    assert.equal(closed[0].code, 4003);
    // Published while the client waits its 500 ms before reconnecting.
    await publish(d.socketPath, [event('project:r', 3), event('project:r', 4)]);
    await infos.until(2);
    assert.equal(infos.items[1].recovered, true);
    await publish(d.socketPath, event('project:r', 5));
    await got.until(5);
    assert.deepEqual(got.items.map((e) => e.payload.n), [1, 2, 3, 4, 5]);
    assert.deepEqual(got.items.map((e) => e.offset), [1, 2, 3, 4, 5]);
    assert.equal(calls, 3, 'a token for the connect, the refused refresh and the reconnect');
    c.close();
  });

  test('after a daemon restart the resubscribe says recovered:false, bound queries are invalidated, live events follow', async () => {
    const first = await start();
    const port = first.port;
    const c = track(client(first, { backoff: { initialMs: 100, maxMs: 400 } }));
    const got = collector();
    const infos = collector();
    c.subscribe('project:x', got, { onSubscribed: infos });
    const invalidated = collector();
    bindQueries(c, { invalidateQueries: invalidated }, {
      channel: 'project:x',
      queryKeys: [['project', 'x'], ['stories', 'x']],
      on: { 'story.status.changed': (e) => [['stories', e.projectId]] },
    });
    c.connect();
    await infos.until(1);
    await publish(first.socketPath, event('project:x', 1));
    await got.until(1);
    const oldEpoch = got.items[0].epoch;
    await invalidated.until(3);
    // Once when first subscribed (the state may predate it), then the event's key.
    assert.deepEqual(invalidated.items, [{ queryKey: ['project', 'x'] }, { queryKey: ['stories', 'x'] },
      { queryKey: ['stories', 'x'] }]);

    const reconnecting = nextState(c, 'reconnecting');
    await stopDaemon(first);
    assert.equal((await reconnecting).code, 1001);
    const second = await start({ args: ['--listen', `127.0.0.1:${port}`] });
    await infos.until(2, 8000);
    assert.equal(infos.items[1].recovered, false);
    assert.notEqual(infos.items[1].epoch, oldEpoch);
    // The gap invalidates every query bound to the channel (ADR-004: refetch).
    assert.deepEqual(invalidated.items.slice(3), [{ queryKey: ['project', 'x'] }, { queryKey: ['stories', 'x'] }]);
    await publish(second.socketPath, event('project:x', 2));
    await got.until(2);
    assert.equal(got.items[1].offset, 1);
    assert.equal(got.items[1].epoch, infos.items[1].epoch);
    c.close();
  });

  test('a terminal close code stops reconnecting', async () => {
    const d = await start({ env: { FANOUTD_LIMITS_MAX_MESSAGE_SIZE: '1024' } });
    const c = track(client(d));
    c.connect();
    await nextState(c, 'open');
    const states = [];
    c.onState((e) => states.push(e));
    c.subscribe(`project:${'x'.repeat(2000)}`, () => {}); // a message over max_message_size: 1009
    await nextState(c, 'closed');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(states.map((e) => e.state), ['closed']);
    assert.equal(states[0].code, 1009);
    assert.equal(states[0].terminal, true);
  });

  test('a forbidden channel ends that subscription only', async () => {
    const d = await start();
    const c = track(client(d, { getToken: async () => token(3600, 'bob', ['project:*']) }));
    const refused = collector();
    const ok = collector();
    c.subscribe('admin:1', () => {}, { onError: refused });
    c.subscribe('project:ok', () => {}, { onSubscribed: ok });
    c.connect();
    await refused.until(1);
    await ok.until(1);
    assert.equal(refused.items[0].code, 'forbidden');
    assert.equal(c.position('admin:1'), null);
    assert.equal(c.state, 'open');
    c.close();
  });

  test('it refreshes the token before expiry and the connection stays up', async () => {
    // A 3 s warning on 5 s tokens: the window spans two of the daemon's
    // once-a-second sweeps even on a busy machine.
    const d = await start({ env: { FANOUTD_AUTH_EXPIRY_WARNING: '3s' } });
    let calls = 0;
    const c = track(client(d, { getToken: async () => { calls++; return token(5); } }));
    const refreshed = collector();
    const closes = collector();
    const errors = collector();
    c.on('refreshed', refreshed);
    c.on('close', closes);
    c.on('error', errors);
    c.connect();
    await nextState(c, 'open');
    await refreshed.until(2, 15000); // each new token lives 5 s: two refreshes outlive the first one
    assert.deepEqual({ closes: closes.items, errors: errors.items }, { closes: [], errors: [] });
    assert.equal(c.state, 'open');
    assert.ok(calls >= 3);
    c.close();
  });

  test('a silent link is found with the application ping and replaced', async () => {
    const d = await start();
    const proxy = await tcpProxy(d.port);
    const c = track(client(d, { url: `ws://127.0.0.1:${proxy.port}/ws`, pingIntervalMs: 200, pongTimeoutMs: 300 }));
    const got = collector();
    const infos = collector();
    c.subscribe('project:p', got, { onSubscribed: infos });
    c.connect();
    await infos.until(1);
    await publish(d.socketPath, event('project:p', 1));
    await got.until(1);

    const closes = collector();
    c.on('close', closes);
    proxy.silence();
    await publish(d.socketPath, event('project:p', 2)); // lost in the silent link
    await closes.until(1, 3000);
    assert.equal(closes.items[0].code, 4002);
    await infos.until(2, 3000);
    assert.equal(infos.items[1].recovered, true);
    await got.until(2);
    assert.deepEqual(got.items.map((e) => e.payload.n), [1, 2]);
    c.close();
    await proxy.close();
  });
});
