// Helpers for the client's tests: a daemon with a known secret, tokens,
// waiting for client states and events, and a TCP proxy that can go silent
// (a dead link the kernel does not report). The daemon and the publish API
// helpers are the end-to-end suite's (test/node/helpers.mjs).

import net from 'node:net';
import { after } from 'node:test';
import { FanoutClient } from '../index.js';
import {
  buildDaemon, claims, mintJWT, removeTempDirs, startDaemon, stopDaemon,
} from '../../../test/node/helpers.mjs';

export * from '../../../test/node/helpers.mjs';

export const SECRET = 'client-tests-secret-0123456789abcdef';

let binary;
/** Starts fanoutd with SECRET; extra env and args as startDaemon takes them. */
export async function daemon({ env = {}, args = [] } = {}) {
  binary ??= await buildDaemon();
  return startDaemon(binary, { secret: SECRET, env, args });
}

/**
 * What a test file starts, stopped after it: start(opts) runs a daemon,
 * track(client) closes the client.
 */
export function lifecycle() {
  const daemons = [];
  const clients = [];
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(daemons.map(stopDaemon));
    removeTempDirs();
  });
  return {
    start: async (opts) => {
      const d = await daemon(opts);
      daemons.push(d);
      return d;
    },
    track: (c) => {
      clients.push(c);
      return c;
    },
  };
}

/** A token for sub with every channel, valid ttl seconds. */
export const token = (ttl = 3600, sub = 'tester', channels = ['*']) => mintJWT(SECRET, claims(sub, channels, ttl));

/** A client with fast test defaults; options override them. */
export function client(d, options = {}) {
  return new FanoutClient({
    url: d.wsUrl,
    getToken: async () => token(),
    backoff: { initialMs: 50, maxMs: 200 },
    ...options,
  });
}

/** Resolves with the first state event matching pred (a state name or a function). */
export function nextState(c, pred, timeoutMs = 5000) {
  const match = typeof pred === 'string' ? (e) => e.state === pred : pred;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no state ${pred} within ${timeoutMs} ms (now ${c.state})`)); },
      timeoutMs);
    const off = c.onState((e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** Collects what a handler gets, and waits until it has n items. */
export function collector() {
  const items = [];
  let waiter = null;
  const push = (x) => {
    items.push(x);
    if (waiter && items.length >= waiter.n) waiter.resolve(items);
  };
  push.items = items;
  push.until = (n, timeoutMs = 5000) => new Promise((resolve, reject) => {
    if (items.length >= n) return resolve(items);
    const timer = setTimeout(() => reject(new Error(`${items.length} of ${n} items within ${timeoutMs} ms: ` +
      JSON.stringify(items))), timeoutMs);
    waiter = { n, resolve: (v) => { clearTimeout(timer); resolve(v); } };
  });
  return push;
}

/** A free TCP port on 127.0.0.1 (nothing listens on it once this resolves). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * A TCP proxy to 127.0.0.1:targetPort for links that fail. silence() stops
 * forwarding on the connections it has, in both directions, without closing
 * anything: to both ends the link looks alive and says nothing, like a dead
 * NAT entry. cut() resets them, like a network that dropped. New
 * connections are forwarded as usual, unless refuse(true) made it reset
 * them too (the network stays down).
 */
export async function tcpProxy(targetPort) {
  const sockets = new Set();
  const server = net.createServer((down) => {
    if (server.refusing) {
      down.resetAndDestroy();
      return;
    }
    const up = net.connect(targetPort, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    down.on('data', (b) => { if (!down.silenced) up.write(b); });
    up.on('data', (b) => { if (!down.silenced) down.write(b); });
    down.on('close', () => { up.destroy(); server.downs.delete(down); });
    up.on('close', () => down.destroy());
    down.silenced = false;
    server.downs.add(down);
  });
  server.downs = new Set();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    silence() { for (const d of server.downs) d.silenced = true; },
    refuse(on) { server.refusing = on; },
    cut() {
      for (const d of server.downs) d.resetAndDestroy();
      server.downs.clear();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}
