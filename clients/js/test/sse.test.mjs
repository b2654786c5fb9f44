// The SSE fallback against a real fanoutd: after repeated WebSocket
// failures the client reads GET /sse with fetch, with the same events,
// positions and resubscription. Run with
// `node --test --experimental-websocket clients/js/test/`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { client, collector, lifecycle, nextState, publish, token } from './helpers.mjs';

const { start, track } = lifecycle();

// A WebSocket URL a proxy refuses (404), with the SSE route beside it.
function blocked(d, options = {}) {
  return track(client(d, {
    url: `ws://127.0.0.1:${d.port}/blocked`,
    sse: { url: `http://127.0.0.1:${d.port}/sse`, afterFailures: 2 },
    backoff: { initialMs: 20, maxMs: 50 },
    ...options,
  }));
}

const event = (channel, n) => ({ channel, type: 'story.status.changed', payload: { n } });

test('after repeated upgrade failures it falls back to SSE, and subscribing more reopens the stream', async () => {
  const d = await start();
  const c = blocked(d);
  const states = [];
  c.onState((e) => states.push(`${e.state}/${e.transport}`));
  const a = collector();
  const infos = collector();
  c.subscribe('project:a', a, { onSubscribed: infos });
  c.connect();
  await infos.until(1);
  assert.equal(c.transport, 'sse');
  assert.deepEqual(states.slice(0, 4), ['connecting/websocket', 'reconnecting/websocket', 'connecting/websocket',
    'reconnecting/sse']);
  await publish(d.socketPath, [event('project:a', 1), event('project:a', 2)]);
  await a.until(2);
  assert.deepEqual(c.position('project:a'), { offset: 2, epoch: a.items[0].epoch });

  const b = collector();
  const bInfos = collector();
  c.subscribe('project:b', b, { onSubscribed: bInfos });
  await bInfos.until(1);
  await infos.until(2);
  assert.equal(infos.items[1].recovered, true, 'the new stream resumed project:a from its position');
  await publish(d.socketPath, [event('project:b', 1), event('project:a', 3)]);
  await b.until(1);
  await a.until(3);
  assert.deepEqual(a.items.map((e) => e.payload.n), [1, 2, 3]);
  c.close();
});

test('on expiring it opens a new stream with a fresh token and loses nothing', async () => {
  const d = await start({ env: { FANOUTD_AUTH_EXPIRY_WARNING: '3s' } }); // 3 s warning, 5 s tokens: see client.test.mjs
  let tokens = 0;
  const c = blocked(d, { getToken: async () => { tokens++; return token(5); } });
  const got = collector();
  const infos = collector();
  const closes = collector();
  c.subscribe('project:e', got, { onSubscribed: infos });
  c.on('close', closes);
  c.connect();
  await infos.until(1);
  let n = 0;
  const publisher = setInterval(() => publish(d.socketPath, event('project:e', ++n)), 50);
  await infos.until(2, 12000); // the stream reopened for the refresh
  clearInterval(publisher);
  await publish(d.socketPath, event('project:e', ++n));
  await got.until(n);
  assert.deepEqual(got.items.map((e) => e.offset), Array.from({ length: n }, (_, i) => i + 1));
  assert.equal(infos.items[1].recovered, true);
  assert.ok(!closes.items.some((x) => x.code === 4003), `closed for expiry: ${JSON.stringify(closes.items)}`);
  assert.ok(tokens >= 4, `${tokens} tokens: two failed upgrades, the first stream and its replacement`);
  c.close();
});

test('a token the SSE route refuses (401) ends the client', async () => {
  const d = await start();
  const c = blocked(d, { getToken: async () => 'not-a-token' });
  c.connect();
  const closed = await nextState(c, 'closed');
  assert.equal(closed.status, 401);
  assert.equal(closed.terminal, true);
  assert.equal(closed.transport, 'sse');
});
