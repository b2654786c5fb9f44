// The dashboard in a real browser: headless Chromium (Debian's chromium,
// driven by playwright-core) loads the page from the demo's server against a
// real fanoutd, sees a published change render, survives a daemon restart
// on its own (recovered:false, then a refetch), and shows changes published
// after it; with a Redis broker, a change published through another node
// while the page's node restarts is recovered (recovered:true); a real
// EventSource resumes a stream with Last-Event-ID. Prints
// the publish-to-render latency; saves screenshots in artifacts/.
//
//   make test-browser   (or: cd examples/dashboard/test && npm ci && node --test)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { tcpProxy } from '../../../clients/js/test/helpers.mjs';
import {
  buildDaemon, claims, getStats, makeTempDir, mintJWT, publish, removeTempDirs, startDaemon, stopDaemon, unixRequest,
} from '../../../test/node/helpers.mjs';
import { startServer } from '../server.mjs';

const here = decodeURIComponent(new URL('.', import.meta.url).pathname);
const artifacts = path.join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without the background-networking flags Chromium waits on services it
// cannot reach from a closed network.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SECRET = 'browser-test-secret-0123456789abcdef';

let bin;
let browser;
const cleanups = [];

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  bin = await buildDaemon();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 20000 });
});

after(async () => {
  for (const f of cleanups.reverse()) await f();
  await browser?.close();
  removeTempDirs();
});

/** A daemon on socketPath (and port, for a restart), with env added. */
async function daemon(socketPath, port, env = {}) {
  const args = ['--socket', socketPath];
  if (port) args.push('--listen', `127.0.0.1:${port}`);
  const d = await startDaemon(bin, { secret: SECRET, args, env });
  cleanups.push(() => stopDaemon(d));
  return d;
}

/** A redis-server on a free loopback port, without persistence. */
async function startRedis() {
  const port = await new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
  });
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' });
  cleanups.push(() => proc.kill('SIGKILL'));
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (up) return { port };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not start');
}

async function newPage() {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  cleanups.push(() => page.close());
  // step runs one stage of a test; a failure names the stage, saves a
  // screenshot and carries the browser's console.
  const step = async (what, f) => {
    try {
      return await f();
    } catch (err) {
      await page.screenshot({ path: path.join(artifacts, 'failure.png') }).catch(() => {});
      throw new Error(`${what}: ${err.message}\nbrowser console:\n${logs.join('\n')}`);
    }
  };
  return { page, logs, step };
}

/** change asks the demo backend to make a change; true when it was published. */
const changer = (server) => async (type, projectId, payload) => {
  const r = await fetch(`${server.url}api/change`, { method: 'POST', body: JSON.stringify({ type, projectId, payload }) });
  return (await r.json()).published;
};

const storyStatus = (id, status) => `[data-story="${id}"] .status[data-status="${status}"]`;

test('the dashboard renders live changes and catches up after a network drop and a daemon restart', async () => {
  const socketPath = path.join(makeTempDir(), 'f.sock');
  let d = await daemon(socketPath);
  const port = d.port;
  const proxy = await tcpProxy(port); // the page's network, which the test can drop
  cleanups.push(() => proxy.close());
  const wsUrl = `ws://127.0.0.1:${proxy.port}/ws`;
  const server = await startServer({ wsUrl, socketPath, secret: SECRET, publishEveryMs: 0 });
  cleanups.push(() => server.close());
  const change = changer(server);
  const { page, step } = await newPage();

  await page.goto(server.url);
  await step('connect', () => page.waitForSelector('#conn[data-state="open"]', { timeout: 10000 }));
  await step('first render', () => page.waitForSelector(storyStatus('1-1', 'backlog')));

  assert.equal(await change('story.status.changed', 'atlas', { storyId: '1-1', status: 'in-progress' }), true);
  await step('live change', () => page.waitForSelector(storyStatus('1-1', 'in-progress'), { timeout: 5000 }));
  const latency = await page.evaluate(() => window.dashboard.latencies.at(-1));
  assert.equal(latency?.storyId, '1-1');
  console.log(`publish → render latency in Chromium: ${latency.ms} ms (backend publish, fanoutd, WebSocket, DOM, next frame)`);

  // The network drops: events published meanwhile are replayed from
  // fanoutd's history on reconnect (recovered:true). (Channels that had no
  // event left the daemon with their last subscriber: they come back in a
  // new epoch, recovered:false, and the page refetches for them.)
  const before = await page.evaluate(() => ({ events: window.dashboard.events, subs: window.dashboard.subscribed.length }));
  proxy.refuse(true);
  proxy.cut();
  await step('notice the drop', () => page.waitForSelector('#conn:not([data-state="open"])', { timeout: 5000 }));
  assert.equal(await change('story.status.changed', 'atlas', { storyId: '1-3', status: 'review' }), true);
  assert.equal(await change('agent.started', 'atlas', { storyId: '1-3', agent: 'dev-agent' }), true);
  proxy.refuse(false);
  await step('reconnect after the drop', () => page.waitForSelector('#conn[data-state="open"]', { timeout: 20000 }));
  await step('replayed', () => page.waitForSelector(storyStatus('1-3', 'review'), { timeout: 5000 }));
  await step('replayed in order', () => page.waitForSelector('[data-story="1-3"] >> text=dev-agent'));
  const replay = await page.evaluate(() => window.dashboard);
  assert.deepEqual(replay.subscribed.slice(before.subs).find((x) => x.channel === 'project:atlas'),
    { channel: 'project:atlas', recovered: true });
  assert.equal(replay.events, before.events + 2, 'both missed events were replayed to the page');

  // The daemon restarts: its history is gone (recovered:false), so the page
  // refetches the state, which has the change made while it was down.
  const refetches = await page.evaluate(() => window.dashboard.refetches);
  await stopDaemon(d);
  await step('notice the restart', () => page.waitForSelector('#conn:not([data-state="open"])', { timeout: 5000 }));
  // Changed while fanoutd is down: the event is lost, the state has it.
  assert.equal(await change('story.status.changed', 'atlas', { storyId: '1-2', status: 'review' }), false);
  d = await daemon(socketPath, port);
  await step('reconnect', () => page.waitForSelector('#conn[data-state="open"]', { timeout: 20000 }));
  await step('catch up by refetch', () => page.waitForSelector(storyStatus('1-2', 'review'), { timeout: 5000 }));
  assert.ok(await page.evaluate(() => window.dashboard.refetches) > refetches, 'recovered:false refetched the state');

  assert.equal(await change('story.status.changed', 'borealis', { storyId: '2-3', status: 'done' }), true);
  await step('live after the restart', () => page.waitForSelector(storyStatus('2-3', 'done'), { timeout: 5000 }));
  assert.equal(await change('pr.created', 'cygnus', { storyId: '3-1', pr: 451 }), true);
  await step('another event type', () => page.waitForSelector('[data-story="3-1"] >> text=PR #451'));
  const after = await page.evaluate(() => window.dashboard.latencies.at(-1));
  console.log(`publish → render latency after the restart: ${after.ms} ms`);
  await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
});

test('Chromium negotiates permessage-deflate and the dashboard renders compressed events', async () => {
  // compression.mode on: every event goes compressed, the dashboard's small
  // ADR-004 events included (with the default, auto, they are under the
  // 512-byte threshold and go plain).
  const socketPath = path.join(makeTempDir(), 'z.sock');
  const d = await daemon(socketPath, undefined, { FANOUTD_COMPRESSION_MODE: 'on' });
  const server = await startServer({ wsUrl: `ws://127.0.0.1:${d.port}/ws`, socketPath, secret: SECRET, publishEveryMs: 0 });
  cleanups.push(() => server.close());
  const change = changer(server);
  const { page, step } = await newPage();
  // The handshake as Chromium saw it: what it offered, what it was answered.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const handshakes = [];
  cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => handshakes.push({ offer: e.request.headers['Sec-WebSocket-Extensions'] }));
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
    const h = e.response.headers;
    handshakes.push({ answer: h['Sec-WebSocket-Extensions'] ?? h['sec-websocket-extensions'] });
  });

  // The page's own connection (not the SharedWorker's), so that the page's
  // DevTools session sees the handshake.
  await page.goto(`${server.url}?shared=off`);
  await step('connect', () => page.waitForSelector('#conn[data-state="open"]', { timeout: 10000 }));
  await step('first render', () => page.waitForSelector(storyStatus('1-1', 'backlog')));
  assert.equal(await change('story.status.changed', 'atlas', { storyId: '1-1', status: 'review' }), true);
  await step('compressed change renders', () => page.waitForSelector(storyStatus('1-1', 'review'), { timeout: 5000 }));

  const offer = handshakes.find((h) => h.offer)?.offer ?? '';
  const answer = handshakes.find((h) => h.answer)?.answer ?? '';
  console.log(`Chromium offered "${offer}", fanoutd answered "${answer}"`);
  assert.match(offer, /permessage-deflate/);
  assert.equal(answer, 'permessage-deflate;server_no_context_takeover;client_no_context_takeover');
  const stats = await getStats(socketPath);
  assert.ok(stats.transport.deflate_upgraded >= 1, `deflate_upgraded = ${stats.transport.deflate_upgraded}`);
  assert.ok(stats.compressed_events >= 1, `compressed_events = ${stats.compressed_events}`);
});

test('with a Redis broker the page catches up after its daemon restarts (recovered:true)', async () => {
  const redis = await startRedis();
  const env = { FANOUTD_BROKER_TYPE: 'redis', FANOUTD_BROKER_REDIS_ADDRESS: `127.0.0.1:${redis.port}` };
  const sockA = path.join(makeTempDir(), 'a.sock');
  const sockB = path.join(makeTempDir(), 'b.sock');
  let a = await daemon(sockA, undefined, env);
  const portA = a.port;
  await daemon(sockB, undefined, env); // the backend publishes through node B
  const server = await startServer({ wsUrl: `ws://127.0.0.1:${portA}/ws`, socketPath: sockB, secret: SECRET, publishEveryMs: 0 });
  cleanups.push(() => server.close());
  const change = changer(server);
  const { page, step } = await newPage();
  await page.goto(server.url);
  await step('connect to node A', () => page.waitForSelector('#conn[data-state="open"]', { timeout: 10000 }));
  assert.equal(await change('story.status.changed', 'atlas', { storyId: '1-1', status: 'in-progress' }), true);
  await step('published on B, rendered via A', () => page.waitForSelector(storyStatus('1-1', 'in-progress'), { timeout: 5000 }));

  await stopDaemon(a);
  await step('notice the restart', () => page.waitForSelector('#conn:not([data-state="open"])', { timeout: 5000 }));
  // Published through node B while the page's node is down: kept in Redis.
  assert.equal(await change('story.status.changed', 'atlas', { storyId: '1-2', status: 'review' }), true);
  const before = await page.evaluate(() => window.dashboard.subscribed.length);
  a = await daemon(sockA, portA, env);
  await step('reconnect to node A', () => page.waitForSelector('#conn[data-state="open"]', { timeout: 20000 }));
  await step('caught up from Redis', () => page.waitForSelector(storyStatus('1-2', 'review'), { timeout: 5000 }));
  const resub = await page.evaluate(() => window.dashboard.subscribed);
  assert.deepEqual(resub.slice(before).find((x) => x.channel === 'project:atlas'),
    { channel: 'project:atlas', recovered: true }, 'the event published while the daemon was down was recovered');
  await page.screenshot({ path: path.join(artifacts, 'dashboard-redis.png'), fullPage: true });
});

test('a real EventSource resumes every channel with Last-Event-ID', async () => {
  const socketPath = path.join(makeTempDir(), 'f.sock');
  const d = await daemon(socketPath);
  const proxy = await tcpProxy(d.port);
  cleanups.push(() => proxy.close());
  const server = await startServer({ wsUrl: d.wsUrl, socketPath, secret: SECRET, publishEveryMs: 0 });
  cleanups.push(() => server.close());
  const { page, logs } = await newPage();
  await page.goto(server.url); // an origin other than the daemon's: the stream is read through CORS
  const tok = mintJWT(SECRET, claims('es-user', ['project:*'], 600));
  const url = `http://127.0.0.1:${proxy.port}/sse?channels=project:es1,project:es2&token=${tok}`;
  await page.evaluate((u) => {
    window.sse = [];
    const src = new EventSource(u);
    for (const type of ['welcome', 'subscribed', 'tick']) {
      src.addEventListener(type, (e) => window.sse.push({ type, id: e.lastEventId, data: JSON.parse(e.data) }));
    }
  }, url);
  const seen = (pred, what) => page.waitForFunction(pred, null, { timeout: 10000 }).catch((err) => {
    throw new Error(`${what}: ${err.message}\n${logs.join('\n')}`);
  });
  await seen(() => window.sse.filter((e) => e.type === 'subscribed').length === 2, 'subscribed twice');
  const ev = (channel, n) => ({ channel, type: 'tick', payload: { n } });
  await publish(socketPath, [ev('project:es1', 1), ev('project:es2', 1)]);
  await seen(() => window.sse.filter((e) => e.type === 'tick').length === 2, 'first events');

  proxy.cut(); // the network drops; EventSource reconnects on its own with Last-Event-ID
  await publish(socketPath, [ev('project:es1', 2), ev('project:es2', 2), ev('project:es1', 3)]);
  await seen(() => window.sse.filter((e) => e.type === 'tick').length === 5, 'missed events replayed');
  const got = await page.evaluate(() => window.sse);
  const resumed = got.filter((e) => e.type === 'subscribed').slice(2);
  assert.deepEqual(resumed.map((e) => [e.data.channel, e.data.recovered]), [['project:es1', true], ['project:es2', true]]);
  const ticks = got.filter((e) => e.type === 'tick').map((e) => `${e.data.channel}#${e.data.offset}`);
  assert.deepEqual(ticks, ['project:es1#1', 'project:es2#1', 'project:es1#2', 'project:es1#3', 'project:es2#2']);
  const epoch1 = got.find((e) => e.data.channel === 'project:es1' && e.type === 'tick').data.epoch;
  const epoch2 = got.find((e) => e.data.channel === 'project:es2' && e.type === 'tick').data.epoch;
  assert.equal(got.at(-1).id, `project:es1 3 ${epoch1} project:es2 2 ${epoch2}`);
});

test('the admin console: every number live, charts full after a reload, tables, Host check', async () => {
  const socketPath = path.join(makeTempDir(), 's.sock');
  const d = await daemon(socketPath, undefined, { FANOUTD_STATUS_ENABLED: 'true' });
  const { page, step } = await newPage();
  const text = (id) => page.textContent(`#${id}`);
  const num = async (id) => Number((await text(id)).replace(/[^0-9.]/g, ''));
  // changes waits until #id no longer reads what it read before f ran.
  const changes = async (ids, f) => {
    const before = {};
    for (const id of ids) before[id] = await text(id);
    await f();
    for (const id of ids) {
      await step(`#${id} changes from ${before[id]}`, () => page.waitForFunction(([id, was]) =>
        document.getElementById(id).textContent !== was, [id, before[id]], { timeout: 8000 }));
    }
  };
  await page.goto(`http://127.0.0.1:${d.port}/`);
  await step('the console goes live', () => page.waitForSelector('#live[data-state="open"]', { timeout: 10000 }));
  // The page's own WebSocket is one connection.
  await page.waitForFunction(() => Number(document.getElementById('connections').textContent) >= 1, null, { timeout: 5000 });
  const before = Number(await page.textContent('#connections'));
  const tok = mintJWT(SECRET, claims('viewer', ['*'], 3600));
  await changes(['connections', 'subscriptions', 'channels', 'transport', 'upgraded', 'uptime'], () => page.evaluate(({ port, tok }) => {
    window.extra = [1, 2, 3].map(() => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['fanout.v1', `bearer.${tok}`]);
      ws.onopen = () => ws.send(JSON.stringify({ action: 'subscribe', channel: 'project:console' }));
      return ws;
    });
  }, { port: d.port, tok }));
  await page.waitForFunction((want) => Number(document.getElementById('connections').textContent) === want,
    before + 3, { timeout: 5000 });
  const points = await page.getAttribute('#chart-connections polyline', 'points');
  assert.ok(points.split(' ').length >= 2, `the chart has points: ${points}`);

  // Publishing moves the totals and the rates.
  const ev = (n) => ({ channel: 'project:console', type: 'tick', payload: { n } });
  await changes(['published', 'delivered', 'publish-rate', 'delivery-rate', 'bytes-out'],
    () => publish(socketPath, Array.from({ length: 40 }, (_, i) => ev(i))));
  // A close with a code, through the control API: the total and the table.
  await changes(['closes-total'], () => unixRequest(socketPath, { method: 'POST', path: '/v1/disconnect',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'viewer', code: 4004, reason: 'session changed' }) }));
  await step('4004 in the close codes', () => page.waitForFunction(() => /4004/.test(document.getElementById('close-codes').textContent), null, { timeout: 8000 }));
  // A refused upgrade: the total and the reason.
  await changes(['refused-total'], () => page.evaluate(({ port }) => { new WebSocket(`ws://127.0.0.1:${port}/ws`, ['fanout.v1', 'bearer.not-a-token']); }, { port: d.port }));
  await step('token in the refusals', () => page.waitForFunction(() => /token/.test(document.getElementById('refusals').textContent), null, { timeout: 8000 }));
  assert.notEqual(await text('probe-ms'), '–', 'the hub probe latency is shown');

  // Tables: the console's own connection and the channel, with search.
  await step('the channels table', () => page.waitForFunction(() => /project:console/.test(document.getElementById('chan-table').textContent), null, { timeout: 8000 }));
  await step('the connections table', () => page.waitForFunction(() => /fanoutd-status-page/.test(document.getElementById('conn-table').textContent), null, { timeout: 8000 }));
  await page.fill('#conn-search', 'no-such-user');
  assert.match(await text('conn-table'), /no connection matches/);
  await page.fill('#conn-search', '');

  // After a reload the charts start from the daemon's window, before any
  // live event could have arrived.
  const kept = await num('connections');
  await page.reload();
  await step('the charts are full after a reload', () => page.waitForFunction(() => Number(document.body.dataset.history) >= 3 &&
    document.querySelector('#chart-throughput polyline').getAttribute('points').split(' ').length >= 2, null, { timeout: 5000 }));
  // The window came from the daemon (GET /status/history.json), not from
  // live events, which arrive one a second.
  assert.ok(Number(await page.getAttribute('body', 'data-history')) >= 3);
  assert.ok(kept >= 1);
  await page.screenshot({ path: path.join(artifacts, 'status.png'), fullPage: true });

  // The Host check still applies to the page and its data.
  for (const p of ['/', '/status/history.json', '/status/tables.json']) {
    const code = await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: d.port, path: p, headers: { Host: `evil.example:${d.port}` } }, (res) => {
        res.resume(); resolve(res.statusCode);
      }).on('error', reject);
    });
    assert.equal(code, 421, `${p} with a foreign Host`);
  }
});
