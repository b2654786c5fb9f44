// @fanoutd/publish against a real daemon: bin/fanoutd (FANOUTD_BIN, or
// built from the worktree), its Unix socket and its TCP API with api.key,
// and a subscriber on Node's built-in WebSocket (--experimental-websocket).
// The retry tests put a small Unix-socket proxy or a silent server in front.

import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ApiError, AuthError, ConnectionError, InvalidEventsError, PayloadTooLargeError, Publisher, TimeoutError,
  UnavailableError, mintToken,
} from '../index.js';
import {
  buildDaemon, closeClient, makeTempDir, nextMessage, ofType, openClient, removeTempDirs, send, startDaemon, stopDaemon,
} from '../../../test/node/helpers.mjs';

const SECRET = 'publish-test-secret-0123456789abcdef';
const API_KEY = 'publish-test-api-key-0123456789';

let d;
let pub;

before(async () => {
  d = await startDaemon(await buildDaemon(), { secret: SECRET, env: { FANOUTD_API_KEY: API_KEY, FANOUTD_LIMITS_MAX_PUBLISH_BYTES: '4096' } });
  pub = new Publisher({ socketPath: d.socketPath, backoffMs: 1, maxBackoffMs: 5 });
});

after(async () => {
  pub?.close();
  await stopDaemon(d);
  removeTempDirs();
});

/** A subscriber to channels, with a token minted by the library. */
async function subscriber(...channels) {
  const token = mintToken(SECRET, { sub: 'alice', channels: ['*'], info: { name: 'Alice' } });
  const ws = await openClient(d.wsUrl, ['fanout.v1', `bearer.${token}`]);
  await nextMessage(ws, ofType('welcome'));
  for (const [i, channel] of channels.entries()) {
    send(ws, { action: 'subscribe', channel, id: String(i) });
    await nextMessage(ws, ofType('subscribed', { channel }));
  }
  return ws;
}

const isEvent = (type) => ofType(type);

describe('publish', () => {
  test('one event over the Unix socket reaches a subscriber, with its position', async () => {
    const ws = await subscriber('project:abc');
    try {
      const pos = await pub.publish('project:abc', 'story.status.changed', { storyId: '6-5', status: 'done' });
      assert.equal(pos.channel, 'project:abc');
      assert.ok(pos.offset >= 1 && typeof pos.epoch === 'string' && pos.epoch !== '');
      assert.equal(pos.duplicate, undefined);
      const m = await nextMessage(ws, isEvent('story.status.changed'));
      assert.deepEqual(m.payload, { storyId: '6-5', status: 'done' });
      assert.equal(m.offset, pos.offset);
      assert.equal(m.projectId, 'abc');
    } finally {
      await closeClient(ws);
    }
  });

  test('a batch is published in order, projectId is the ADR-004 channel', async () => {
    const ws = await subscriber('project:b1', 'projects');
    try {
      const r = await pub.publishBatch([
        { projectId: 'b1', type: 'agent.started', payload: { n: 1 } },
        { channel: 'project:b1', type: 'agent.completed', payload: { n: 2 } },
        { channel: 'projects', type: 'project.created', payload: { id: 'b1' } },
      ]);
      assert.equal(r.published, 3);
      assert.deepEqual(r.positions.map((p) => p.channel), ['project:b1', 'project:b1', 'projects']);
      assert.equal(r.positions[1].offset, r.positions[0].offset + 1);
      assert.equal((await nextMessage(ws, isEvent('agent.started'))).payload.n, 1);
      assert.equal((await nextMessage(ws, isEvent('agent.completed'))).payload.n, 2);
      assert.equal((await nextMessage(ws, isEvent('project.created'))).channel, 'projects');
    } finally {
      await closeClient(ws);
    }
  });

  test('the TCP API with api.key publishes too', async () => {
    const tcp = new Publisher({ url: `http://127.0.0.1:${d.port}`, apiKey: API_KEY });
    const ws = await subscriber('tcp');
    try {
      const pos = await tcp.publish('tcp', 'over.tcp', [1, 2, 3]);
      assert.equal(pos.channel, 'tcp');
      assert.deepEqual((await nextMessage(ws, isEvent('over.tcp'))).payload, [1, 2, 3]);
      assert.equal((await tcp.stats()).broker_up, true);
    } finally {
      tcp.close();
      await closeClient(ws);
    }
  });

  test('a wrong api.key is a typed 401, never retried', async () => {
    const tcp = new Publisher({ url: `http://127.0.0.1:${d.port}`, apiKey: 'not-the-key-0123456789' });
    try {
      const err = await tcp.publish('tcp', 't', 1).catch((e) => e);
      assert.ok(err instanceof AuthError, `${err}`);
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 401);
      assert.equal(err.error, 'unauthorized');
      assert.equal(err.attempts, 1);
      assert.equal(err.retryable, false);
    } finally {
      tcp.close();
    }
  });
});

describe('errors', () => {
  test('invalid events are typed with the index and reason of each; nothing is published or retried', async () => {
    const before = (await pub.stats()).published;
    const err = await pub.publishBatch([
      { channel: 'ok', type: 'fine' },
      { channel: 'ok' },
      { type: 'no.channel' },
      { channel: 'ok', type: 'welcome' },
    ]).catch((e) => e);
    assert.ok(err instanceof InvalidEventsError, `${err}`);
    assert.equal(err.status, 400);
    assert.equal(err.error, 'invalid event');
    assert.deepEqual(err.events.map((e) => e.index), [1, 2, 3]);
    assert.match(err.events[0].error, /missing "type"/);
    assert.match(err.events[1].error, /missing "channel"/);
    assert.match(err.events[2].error, /reserved/);
    assert.equal(err.published, 0);
    assert.equal(err.attempts, 1);
    assert.equal((await pub.stats()).published, before);
  });

  test('a body over the daemon\'s limit is a typed 413 with the limit', async () => {
    const err = await pub.publish('big', 't', 'x'.repeat(5000)).catch((e) => e);
    assert.ok(err instanceof PayloadTooLargeError, `${err}`);
    assert.equal(err.limit, 4096);
    assert.equal(err.attempts, 1);
  });

  test('no daemon at the path: ConnectionError after the retries', async () => {
    const none = new Publisher({ socketPath: path.join(makeTempDir(), 'none.sock'), retries: 2, backoffMs: 1 });
    const err = await none.publish('c', 't').catch((e) => e);
    assert.ok(err instanceof ConnectionError, `${err}`);
    assert.equal(err.attempts, 3);
    none.close();
  });

  test('bad arguments are TypeErrors, before any request', async () => {
    assert.throws(() => new Publisher({}), TypeError);
    assert.throws(() => new Publisher({ url: 'http://127.0.0.1:1' }), TypeError);
    await assert.rejects(pub.publishBatch([]), TypeError);
    assert.throws(() => mintToken('short', { sub: 'a' }), TypeError);
  });
});

/**
 * A Unix-socket proxy to the daemon that forwards each request but, for the
 * first `lose` connections, destroys the client's connection when the
 * daemon's answer arrives: the event is published and the publisher never
 * learns it. It records every request body.
 */
function lossyProxy(target, lose) {
  const sock = path.join(makeTempDir(), 'proxy.sock');
  const bodies = [];
  let n = 0;
  const server = net.createServer((client) => {
    const lost = n++ < lose;
    const up = net.connect(target);
    client.on('data', (b) => { bodies.push(b.toString()); up.write(b); });
    up.on('data', (b) => (lost ? client.destroy() : client.write(b)));
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    client.on('error', () => {});
    up.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(sock, () => resolve({ sock, bodies, close: () => server.close() })));
}

describe('retries', () => {
  test('an answer lost after the publish: the retry carries the same key, one event, one position', async () => {
    const ws = await subscriber('retry');
    const proxy = await lossyProxy(d.socketPath, 1);
    const p = new Publisher({ socketPath: proxy.sock, backoffMs: 1, maxBackoffMs: 5 });
    try {
      const before = (await pub.stats()).duplicates;
      const pos = await p.publish('retry', 'once', { n: 1 });
      assert.equal(pos.duplicate, true, 'the second attempt is answered from the idempotency window');
      const keys = proxy.bodies.map((b) => /"idempotency_key":"([^"]+)"/.exec(b)?.[1]);
      assert.equal(keys.length, 2);
      assert.equal(keys[0], keys[1]);
      assert.match(keys[0], /^[0-9a-f-]{36}$/);
      assert.equal((await pub.stats()).duplicates, before + 1);
      const first = await nextMessage(ws, isEvent('once'));
      assert.equal(first.offset, pos.offset);
      // One delivery: the next event the subscriber gets is the marker.
      await pub.publish('retry', 'marker');
      const next = await nextMessage(ws, (m) => m.channel === 'retry');
      assert.equal(next.type, 'marker');
    } finally {
      p.close();
      proxy.close();
      await closeClient(ws);
    }
  });

  test('the caller\'s key is kept: publishing it again is a duplicate with the first position', async () => {
    const a = await pub.publish('keyed', 't', 1, { idempotencyKey: 'order-42' });
    const b = await pub.publish('keyed', 't', 1, { idempotencyKey: 'order-42' });
    assert.equal(b.duplicate, true);
    assert.equal(b.offset, a.offset);
    assert.equal(b.epoch, a.epoch);
  });

  test('a daemon that does not answer: TimeoutError per attempt, every attempt with the same key', async () => {
    const sock = path.join(makeTempDir(), 'silent.sock');
    const bodies = [];
    const conns = new Set();
    const server = net.createServer((c) => { conns.add(c); c.on('data', (b) => bodies.push(b.toString())); c.on('error', () => {}); });
    await new Promise((r) => server.listen(sock, r));
    const p = new Publisher({ socketPath: sock, timeoutMs: 100, retries: 2, backoffMs: 1 });
    try {
      const err = await p.publish('c', 't').catch((e) => e);
      assert.ok(err instanceof TimeoutError, `${err}`);
      assert.equal(err.retryable, true);
      assert.equal(err.attempts, 3);
      const keys = new Set(bodies.map((b) => /"idempotency_key":"([^"]+)"/.exec(b)?.[1]));
      assert.equal(bodies.length, 3);
      assert.equal(keys.size, 1);
    } finally {
      p.close();
      for (const c of conns) c.destroy();
      server.close();
    }
  });

  test('503 and 504 are retried (Retry-After honoured), and the last one is typed', async () => {
    const sock = path.join(makeTempDir(), 'busy.sock');
    let n = 0;
    const server = net.createServer((c) => {
      c.on('error', () => {});
      c.once('data', () => {
        n++;
        const status = n % 2 ? '503 Service Unavailable' : '504 Gateway Timeout';
        const body = JSON.stringify({ error: 'broker unavailable: down', published: 0 });
        c.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nRetry-After: 0\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      });
    });
    await new Promise((r) => server.listen(sock, r));
    const p = new Publisher({ socketPath: sock, retries: 3, backoffMs: 1 });
    try {
      const err = await p.publish('c', 't').catch((e) => e);
      assert.ok(err instanceof UnavailableError, `${err}`);
      assert.equal(err.status, 504);
      assert.equal(err.retryAfterMs, 0);
      assert.equal(err.attempts, 4);
      assert.equal(n, 4);
    } finally {
      p.close();
      server.close();
    }
  });
});

describe('read side', () => {
  test('stats, channels, presence and the connection-event stream', async () => {
    const ws = await subscriber('room');
    try {
      assert.ok((await pub.stats()).connections >= 1);
      assert.ok((await pub.channels()).some((c) => c.channel === 'room' && c.subscribers === 1));
      const [client] = await pub.presence('room');
      assert.equal(client.user, 'alice');
      assert.deepEqual(client.info, { name: 'Alice' });
      const ac = new AbortController();
      const seen = [];
      for await (const e of pub.connectionEvents({ signal: ac.signal })) {
        seen.push(e);
        if (e.type === 'subscribe' && e.channel === 'room' && e.connection_id === client.connection_id) ac.abort();
      }
      assert.ok(seen.some((e) => e.type === 'connect' && e.user === 'alice'));
    } finally {
      await closeClient(ws);
    }
  });
});
