// @fanoutd/client in headless Chromium against a real fanoutd (issue 18):
// five tabs of one origin share one connection (through the SharedWorker,
// and through an elected tab), each tab gets exactly its own channels'
// events, a tab that goes away mid-stream costs the others nothing (no event
// lost, none twice: offsets checked), sharing off means one connection per
// tab; the drain's reconnect hint is honoured; nothing is tried while the
// browser is offline and the return online reconnects within a second;
// bindQueries with a real TanStack QueryClient catches a publish that raced
// the first subscribe; and a React app built with esbuild uses the hooks in
// strict mode.
//
//   make test-browser   (clients/js needs `npm ci` for esbuild, React and TanStack)

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import {
  buildDaemon, claims, getStats, makeTempDir, mintJWT, publish, removeTempDirs, startDaemon, stopDaemon, waitFor,
} from '../../../test/node/helpers.mjs';

const here = decodeURIComponent(new URL('.', import.meta.url).pathname);
const clientDir = path.resolve(here, '../../../clients/js');
const { build } = createRequire(path.join(clientDir, 'package.json'))('esbuild');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SECRET = 'tabs-test-secret-0123456789abcdef0123';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let bin;
let browser;
let site;
const cleanups = [];

before(async () => {
  bin = await buildDaemon();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 20000 });
  site = await startSite();
  cleanups.push(() => site.close());
});

after(async () => {
  for (const f of cleanups.reverse()) await f();
  await browser?.close();
  removeTempDirs();
});

async function daemon({ env = {}, port } = {}) {
  const args = port ? ['--listen', `127.0.0.1:${port}`] : [];
  const d = await startDaemon(bin, { secret: SECRET, env, args });
  cleanups.push(() => stopDaemon(d));
  return d;
}

/**
 * The pages' origin: the client's modules under /client/, a blank page, a
 * token, a state the race test changes, and the React app (/react/app.js,
 * built here with esbuild).
 */
async function startSite() {
  const built = new Map();
  const bundle = async (name, entry) => {
    const r = await build({
      entryPoints: [entry], bundle: true, format: 'esm', write: false, jsx: 'automatic', target: 'es2020',
      nodePaths: [path.join(clientDir, 'node_modules')], logLevel: 'error',
      alias: { '@fanoutd/client': clientDir },
      define: { 'process.env.NODE_ENV': '"development"' },
    });
    built.set(name, r.outputFiles[0].text);
  };
  await bundle('/tanstack.js', path.join(here, 'pages', 'tanstack.jsx'));
  await bundle('/react/app.js', path.join(here, 'pages', 'react-app.jsx'));
  const state = { version: 1 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const send = (type, body) => { res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }); res.end(body); };
    if (url.pathname === '/') return send('text/html', '<!doctype html><title>tab</title><div id="root"></div>');
    if (url.pathname === '/token') return send('text/plain', mintJWT(SECRET, claims('tab-user', ['*'], 600)));
    if (url.pathname === '/state') return send('application/json', JSON.stringify(state));
    if (built.has(url.pathname)) return send('text/javascript', built.get(url.pathname));
    if (url.pathname === '/react/worker.js' || url.pathname.startsWith('/client/')) {
      const file = url.pathname === '/react/worker.js' ? 'worker.js' : url.pathname.slice('/client/'.length);
      if (!/^[a-z-]+\.js$/.test(file)) { res.writeHead(404); return res.end(); }
      try {
        return send('text/javascript', readFileSync(path.join(clientDir, file)));
      } catch {
        res.writeHead(404);
        return res.end();
      }
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/`, state, close: () => new Promise((r) => server.close(r)) };
}

/** A browser context (one origin's tabs share workers, locks and channels within it) and its pages. */
async function context() {
  const ctx = await browser.newContext();
  cleanups.push(() => ctx.close());
  const logs = [];
  const open = async () => {
    const page = await ctx.newPage();
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(site.url);
    return page;
  };
  const step = async (what, f) => {
    try {
      return await f();
    } catch (err) {
      throw new Error(`${what}: ${err.message}\nbrowser console:\n${logs.slice(-40).join('\n')}`);
    }
  };
  return { ctx, open, step };
}

/**
 * Starts a FanoutClient in page on the given channels; what it gets is
 * logged in window.log: events ([channel, offset, epoch]), states,
 * subscribed replies, closes, WebSocket constructions.
 */
function startClient(page, { ws, channels, shared = true }) {
  return page.evaluate(async ({ ws, channels, shared }) => {
    const { FanoutClient } = await import('/client/index.js');
    const log = { events: [], states: [], subscribed: [], closes: [], sockets: 0 };
    window.log = log;
    const Counting = class extends WebSocket {
      constructor(...a) {
        super(...a);
        log.sockets++;
      }
    };
    const c = new FanoutClient({
      url: ws, shared, WebSocket: Counting, backoff: { initialMs: 100, maxMs: 400 },
      getToken: async () => (await fetch('/token')).text(),
    });
    window.client = c;
    c.onState((e) => log.states.push({ ...e, at: Date.now() }));
    c.on('close', (i) => log.closes.push({ ...i, at: Date.now() }));
    for (const ch of channels) {
      c.subscribe(ch, (e) => log.events.push([e.channel, e.offset, e.epoch]), { onSubscribed: (i) => log.subscribed.push(i) });
    }
    c.connect();
  }, { ws, channels, shared });
}

const subscribedAll = (page, n) => page.waitForFunction((k) => window.log.subscribed.length >= k, n, { timeout: 15000 });
const events = (page) => page.evaluate(() => window.log.events);
const offsetsOf = (evs, ch) => evs.filter(([c]) => c === ch).map(([, o]) => o);
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Publishes count events to channel, one every everyMs; onProgress(n) after each. */
async function stream(socketPath, channel, count, everyMs, onProgress = () => {}) {
  for (let n = 1; n <= count; n++) {
    await publish(socketPath, { channel, type: 'tick', payload: { n } });
    await onProgress(n);
    await sleep(everyMs);
  }
}

async function connections(d, want) {
  return waitFor(async () => {
    const s = await getStats(d.socketPath);
    return { ok: s.connections === want, value: s.connections };
  }, { timeoutMs: 5000, what: `${want} connection(s)` });
}

for (const [mode, shared] of [['a SharedWorker', true], ['an elected tab', 'leader']]) {
  test(`five tabs share one connection through ${mode}; a closed tab mid-stream costs the others nothing`, async () => {
    const d = await daemon();
    const { open, step } = await context();
    const pages = [];
    for (let i = 0; i < 5; i++) {
      const p = await open();
      await startClient(p, { ws: d.wsUrl, channels: ['common', `own:${i}`], shared });
      pages.push(p);
    }
    for (const p of pages) await step('subscribed', () => subscribedAll(p, 2));
    await step('one connection', () => connections(d, 1));
    for (const p of pages) {
      assert.equal(await p.evaluate(() => window.client._remote.mode), shared === true ? 'worker' : 'leader');
    }
    // Each tab's own channel, then a common stream during which tab 0 (the
    // first: in the elected-tab mode, the one holding the connection) closes.
    for (let i = 0; i < 5; i++) await publish(d.socketPath, [1, 2].map((n) => ({ channel: `own:${i}`, type: 't', payload: { n } })));
    const t0 = Date.now();
    await stream(d.socketPath, 'common', 60, 10, async (n) => { if (n === 20) await pages[0].close(); });
    const rest = pages.slice(1);
    for (const p of rest) {
      await step('every common event', () => p.waitForFunction(() => window.log.events.filter(([c]) => c === 'common').length >= 60,
        null, { timeout: 10000 }));
    }
    await sleep(200); // anything late and doubled would land now
    if (shared === 'leader') {
      // The connection moved: the other tabs saw a new one open.
      const states = await rest[0].evaluate(() => window.log.states.map((e) => e.state));
      assert.ok(states.lastIndexOf('open') > states.indexOf('open'), `a second connection opened: ${states}`);
      for (const p of rest) {
        const subs = await p.evaluate(() => window.log.subscribed.filter((i) => i.channel === 'common'));
        assert.equal(subs.at(-1).recovered, true, `resumed from the tab's position: ${JSON.stringify(subs)}`);
      }
    }
    for (const [i, p] of rest.entries()) {
      const evs = await events(p);
      assert.deepEqual(offsetsOf(evs, 'common'), range(1, 60), `tab ${i + 1}: every common event once, in order`);
      assert.deepEqual(offsetsOf(evs, `own:${i + 1}`), [1, 2], `tab ${i + 1}: its own channel's events`);
      assert.deepEqual([...new Set(evs.map(([c]) => c))].sort(), ['common', `own:${i + 1}`], `tab ${i + 1}: nothing else`);
    }
    console.log(`${mode}: 60 events over ${Date.now() - t0} ms with tab 0 closed at the 20th; 4 tabs got 1..60 once each`);
    await step('still one connection', () => connections(d, 1));
  });
}

test('with sharing off, five tabs are five connections', async () => {
  const d = await daemon();
  const { open, step } = await context();
  for (let i = 0; i < 5; i++) {
    const p = await open();
    await startClient(p, { ws: d.wsUrl, channels: ['common'], shared: false });
    await step('subscribed', () => subscribedAll(p, 1));
  }
  await step('five connections', () => connections(d, 5));
});

/** A TCP proxy to 127.0.0.1:port() logging when each connection arrives, and when the daemon's side ends. */
async function loggingProxy(port) {
  const arrivals = [];
  const ends = [];
  const sockets = new Set();
  const server = net.createServer((down) => {
    arrivals.push(Date.now());
    if (server.refusing) return down.resetAndDestroy();
    const up = net.connect(port(), '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    down.pipe(up);
    up.pipe(down);
    down.on('close', () => up.destroy());
    up.on('end', () => ends.push(Date.now()));
    up.on('close', () => down.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); });
  return {
    port: server.address().port,
    arrivals,
    ends,
    refuse(on) { server.refusing = on; },
    cut() { for (const s of sockets) s.destroy(); },
  };
}

test('a draining daemon\'s reconnect hint is honoured', async () => {
  const d = await daemon({ env: { FANOUTD_DRAIN_WINDOW: '100ms', FANOUTD_DRAIN_RECONNECT_AFTER: '700ms' } });
  const next = await daemon(); // listening before the first one stops: the one attempt finds it
  let target = d;
  const proxy = await loggingProxy(() => target.port);
  const { open, step } = await context();
  const page = await open();
  await startClient(page, { ws: `ws://127.0.0.1:${proxy.port}/ws`, channels: ['drain'] });
  await step('subscribed', () => subscribedAll(page, 1));
  target = next;
  await stopDaemon(d);
  await step('resubscribed', () => subscribedAll(page, 2));
  const [closed] = await page.evaluate(() => window.log.closes);
  const hint = JSON.parse(closed.reason).reconnect_after_ms;
  // From the daemon's end of the connection (the tab hears of the close a
  // little later, through the SharedWorker) to the next connection.
  const waited = proxy.arrivals[1] - proxy.ends[0];
  console.log(`Chromium: drain hint ${hint} ms (close ${closed.code}); the next connection came ${waited} ms after the daemon closed`);
  assert.equal(proxy.arrivals.length, 2, 'one attempt, after the hint');
  assert.ok(waited >= hint - 5 && waited < hint + 1000, `reconnected after ${waited} ms for a ${hint} ms hint`);
});

for (const [mode, shared] of [['its own connection', false], ['a shared connection', true]]) {
  test(`offline, with ${mode}: no attempt; online: reconnected within a second`, async () => {
    const d = await daemon();
    const proxy = await loggingProxy(() => d.port);
    const { ctx, open, step } = await context();
    const page = await open();
    await startClient(page, { ws: `ws://127.0.0.1:${proxy.port}/ws`, channels: ['net'], shared });
    await step('subscribed', () => subscribedAll(page, 1));
    await ctx.setOffline(true);
    await step('the page is offline', () => page.waitForFunction(() => navigator.onLine === false, null, { timeout: 3000 }));
    proxy.refuse(true);
    proxy.cut(); // the link drops while offline
    await step('offline state', () => page.waitForFunction(() => window.client.state === 'offline', null, { timeout: 5000 }));
    const sockets = await page.evaluate(() => window.log.sockets);
    const arrivals = proxy.arrivals.length;
    await sleep(1500); // three to fifteen backoff periods
    // The page's own attempts are counted in the page; the SharedWorker's
    // (which the emulation may not cover) at the proxy.
    assert.equal(await page.evaluate(() => window.log.sockets), sockets, 'no WebSocket attempted while offline');
    assert.equal(proxy.arrivals.length, arrivals, 'no connection attempted while offline');
    proxy.refuse(false);
    const t0 = Date.now();
    await ctx.setOffline(false);
    await step('open within a second', () => page.waitForFunction(() => window.client.state === 'open', null, { timeout: 1000 }));
    console.log(`Chromium, ${mode}: back online, open again after ${Date.now() - t0} ms`);
    await step('resubscribed', () => subscribedAll(page, 2));
  });
}

test('bindQueries with a real TanStack QueryClient: a publish racing the first subscribe is caught', async () => {
  const d = await daemon();
  const { open, step } = await context();
  const page = await open();
  site.state.version = 1;
  await page.evaluate(async (ws) => {
    const { FanoutClient, bindQueries } = await import('/client/index.js');
    const { QueryClient, QueryObserver } = await import('/tanstack.js');
    const qc = new QueryClient();
    window.seen = [];
    new QueryObserver(qc, { queryKey: ['state'], queryFn: async () => (await fetch('/state')).json() })
      .subscribe((r) => { if (r.data) window.seen.push(r.data.version); });
    window.go = () => {
      const c = new FanoutClient({ url: ws, shared: false, getToken: async () => (await fetch('/token')).text() });
      bindQueries(c, qc, { channel: 'project:race', queryKeys: [['state']], on: {} });
      c.connect();
    };
  }, d.wsUrl);
  await step('first fetch', () => page.waitForFunction(() => window.seen.includes(1), null, { timeout: 5000 }));
  // The state changes and its event is published after the page fetched
  // and before its subscription is in place: the event reaches nobody.
  site.state.version = 2;
  await publish(d.socketPath, { channel: 'project:race', type: 'state.changed' });
  await page.evaluate(() => window.go());
  await step('refetched on the first subscribed', () => page.waitForFunction(() => window.seen.includes(2), null, { timeout: 5000 }));
});

/**
 * The daemon's connection events (GET /v1/events, NDJSON) as they come:
 * {type: connect|subscribe|unsubscribe|disconnect, channel, …}.
 */
function connectionEvents(socketPath) {
  const seen = [];
  const req = http.request({ socketPath, path: '/v1/events', agent: false }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (s) => {
      buf += s;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const l of lines) if (l.trim()) seen.push(JSON.parse(l));
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.end();
  cleanups.push(() => req.destroy());
  return seen;
}

test('a React app built with esbuild uses the hooks in strict mode', async () => {
  const d = await daemon();
  const seen = connectionEvents(d.socketPath);
  const { open, step } = await context();
  const page = await open();
  await page.evaluate(async (ws) => {
    window.APP = { ws };
    await import('/react/app.js');
  }, d.wsUrl);
  await step('open', () => page.waitForSelector('#state[data-state="open"]', { timeout: 10000 }));
  await page.evaluate(() => window.APP.show());
  await step('fetched', () => page.waitForFunction(() => window.APP.fetches >= 1, null, { timeout: 5000 }));
  await waitFor(async () => {
    const s = await getStats(d.socketPath);
    return { ok: s.subscriptions === 1, value: s };
  }, { what: 'one subscription', timeoutMs: 5000 });
  const fetches = await page.evaluate(() => window.APP.fetches);
  await publish(d.socketPath, [1, 2, 3].map((n) => ({ channel: 'project:react', type: 'story.changed', payload: { n } })));
  await step('rendered', () => page.waitForSelector('#events[data-count="3"]', { timeout: 5000 }));
  await step('invalidated', () => page.waitForFunction((f) => window.APP.fetches > f, fetches, { timeout: 5000 }));
  assert.equal(await page.textContent('#events'), '1,2,3');
  const stats = await getStats(d.socketPath);
  assert.equal(stats.connections, 1);
  assert.equal(stats.subscriptions, 1, 'strict mode\'s double mount left one subscription');
  // Strict mode mounted every effect twice: the daemon saw one connection
  // and one subscribe, no unsubscribe and subscribe again.
  assert.deepEqual(seen.map((e) => [e.type, e.channel ?? '']), [['connect', ''], ['subscribe', 'project:react']],
    JSON.stringify(seen));
  await page.evaluate(() => window.APP.unmount());
  await waitFor(async () => {
    const s = await getStats(d.socketPath);
    return { ok: s.connections === 0, value: s.connections };
  }, { what: 'no connection after unmount', timeoutMs: 5000 });
});
