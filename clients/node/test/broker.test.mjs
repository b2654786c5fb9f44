// A real daemon on a real Redis that goes away: its 503 is typed and
// carries Retry-After, and a publish that meets the outage is retried,
// with the same idempotency key, until Redis is back: one event, delivered
// once.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Publisher, UnavailableError, mintToken } from '../index.js';
import {
  buildDaemon, closeClient, makeTempDir, nextMessage, ofType, openClient, removeTempDirs, send, startDaemon, stopDaemon,
  waitFor,
} from '../../../test/node/helpers.mjs';

const SECRET = 'broker-test-secret-0123456789abcdef';
let redis;
let port;
let d;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    }).on('error', reject);
  });
}

function ping() {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.setTimeout(500, () => { c.destroy(); resolve(false); });
    c.on('error', () => resolve(false));
    c.on('data', (b) => { c.destroy(); resolve(b.toString().startsWith('+PONG')); });
    c.on('connect', () => c.write('PING\r\n'));
  });
}

async function startRedis() {
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' });
  redis.on('error', (err) => { throw new Error(`redis-server is required (apt-get install redis-server): ${err.message}`); });
  await waitFor(async () => ({ ok: await ping() }), { timeoutMs: 10_000, what: 'redis-server answering PING' });
}

function killRedis() {
  const r = redis;
  if (!r || r.exitCode !== null || r.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => { r.once('exit', resolve); r.kill('SIGKILL'); });
}

before(async () => {
  port = await freePort();
  await startRedis();
  d = await startDaemon(await buildDaemon(), {
    secret: SECRET, env: { FANOUTD_BROKER_TYPE: 'redis', FANOUTD_BROKER_REDIS_ADDRESS: `127.0.0.1:${port}` },
  });
});

after(async () => {
  await stopDaemon(d);
  await killRedis();
  removeTempDirs();
});

/**
 * A Unix-socket proxy to the daemon that calls onStatus with the status of
 * each answer it passes on.
 */
function watchingProxy(target, onStatus) {
  const sock = path.join(makeTempDir(), 'watch.sock');
  const bodies = [];
  const server = net.createServer((client) => {
    const up = net.connect(target);
    client.on('data', (b) => { bodies.push(b.toString()); up.write(b); });
    up.on('data', (b) => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(b.toString());
      if (m) onStatus(Number(m[1]));
      client.write(b);
    });
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    client.on('error', () => {});
    up.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(sock, () => resolve({ sock, bodies, close: () => server.close() })));
}

test('503 from a daemon whose broker is down: typed, then retried with the same key until it is back', async () => {
  const token = mintToken(SECRET, { sub: 'alice', channels: ['*'] });
  const ws = await openClient(d.wsUrl, ['fanout.v1', `bearer.${token}`]);
  const pub = new Publisher({ socketPath: d.socketPath, retries: 0 });
  try {
    await nextMessage(ws, ofType('welcome'));
    send(ws, { action: 'subscribe', channel: 'outage', id: '1' });
    await nextMessage(ws, ofType('subscribed'));
    await pub.publish('outage', 'before');
    await nextMessage(ws, ofType('before'));

    await killRedis();
    const err = await pub.publish('outage', 'refused').catch((e) => e);
    assert.ok(err instanceof UnavailableError, `${err}`);
    assert.equal(err.status, 503);
    assert.equal(err.retryAfterMs, 1000);
    assert.equal(err.published, 0);
    assert.equal(err.attempts, 1);

    // Redis comes back once the daemon has refused the first attempt.
    let restarted;
    const proxy = await watchingProxy(d.socketPath, (status) => { if (status === 503) restarted ??= startRedis(); });
    const retrying = new Publisher({ socketPath: proxy.sock, retries: 15, maxBackoffMs: 200 });
    try {
      const pos = await retrying.publish('outage', 'after', { n: 1 });
      assert.ok(restarted, 'the first attempt met the outage');
      await restarted;
      const keys = proxy.bodies.map((b) => /"idempotency_key":"([^"]+)"/.exec(b)?.[1]).filter(Boolean);
      assert.ok(keys.length >= 2, `attempts: ${keys.length}`);
      assert.equal(new Set(keys).size, 1);
      const m = await nextMessage(ws, ofType('after'), 15_000);
      assert.equal(m.offset, pos.offset);
      await pub.publish('outage', 'marker');
      assert.equal((await nextMessage(ws, (x) => x.type === 'after' || x.type === 'marker', 15_000)).type, 'marker');
    } finally {
      retrying.close();
      proxy.close();
    }
  } finally {
    pub.close();
    await closeClient(ws);
  }
});
