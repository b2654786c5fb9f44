// The hub that shares one connection among tabs (hub.js), with a real
// fanoutd and in-process tabs (real FanoutClients in tab mode, their
// messages passed as a SharedWorker's ports would): each tab gets its own
// channels only, a tab that comes back behind the others is replayed what
// it lacks (the channel subscribed again from its position) without the
// others seeing anything twice, a token comes from whichever tab can give
// one, and null from a tab ends the connection for every tab.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FanoutClient } from '../index.js';
import { Hub } from '../hub.js';
import { collector, getStats, lifecycle, publish, stopDaemon, token, waitFor } from './helpers.mjs';

const { start } = lifecycle();

/** A hub and a way to make tabs attached to it, as worker-src.js wires them. */
function world(d, t) {
  const tabs = new Map();
  const hub = new Hub((ids, m) => { for (const id of ids) queueMicrotask(() => tabs.get(id)?.got(m)); }, null,
    (id) => tabs.delete(id));
  t.after(() => hub.stop()); // also when the test fails: the hub's connection would retry for ever
  const tab = (id, getToken = async () => token()) => {
    const c = new FanoutClient({ url: d.wsUrl, getToken, shared: false, backoff: { initialMs: 50, maxMs: 100 } });
    // What tab.js's attach does, minus the browser: messages straight to the hub.
    c._remote = {
      post: (m) => queueMicrotask(() => hub.msg({ ...m, from: id })),
      bye: () => hub.msg({ t: 'bye', from: id }),
    };
    tabs.set(id, {
      got: async (m) => {
        if (m.t === 'msg') c._frame(m.m);
        else if (m.t === 'state') c._setState(m.ev.state, m.ev);
        else if (m.t === 'token') {
          let answer;
          try { answer = { token: (await c._o.getToken()) ?? null }; } catch (e) { answer = { err: String(e.message) }; }
          hub.msg({ t: 'token', id: m.id, from: id, ...answer });
        }
      },
    });
    c.hello = () => c._remote.post({
      t: 'hello', opts: { url: d.wsUrl, backoff: { initialMs: 50, maxMs: 100 } },
      subs: [...c._subs].map(([ch, s]) => [ch, s.pos]), on: true,
    });
    return c;
  };
  return { hub, tab };
}

const ev = (channel, n) => ({ channel, type: 'tick', payload: { n } });
const offsets = (items) => items.map((e) => e.offset);

test('one connection; each tab its own channels; a tab behind the others is replayed what it lacks, nobody twice', async (t) => {
  const d = await start();
  const { tab } = world(d, t);
  const a = tab('a');
  const b = tab('b');
  const gotA = collector();
  const gotB = collector();
  const ownB = collector();
  const infosB = collector();
  a.subscribe('shared', gotA);
  a.subscribe('only-a', () => assert.fail('only a subscribed there'));
  a.hello();
  await waitFor(async () => ({ ok: a.state === 'open' }), { what: 'a open', timeoutMs: 10000 });
  await waitFor(async () => ({ ok: !!a.position('shared') }), { what: 'a subscribed', timeoutMs: 10000 });
  await publish(d.socketPath, [1, 2, 3, 4, 5].map((n) => ev('shared', n)));
  await gotA.until(5);

  // b comes with a position in the same epoch, older than the connection's:
  // as after a hand-over, when each tab says what it has seen.
  const epoch = gotA.items[0].epoch;
  b.subscribe('shared', gotB, { since: { offset: 2, epoch }, onSubscribed: infosB });
  b.subscribe('own-b', ownB);
  b.hello();
  await infosB.until(1);
  assert.equal(infosB.items[0].recovered, true);
  await gotB.until(3);
  await publish(d.socketPath, [ev('shared', 6), ev('own-b', 1), ev('only-b-no', 1)]);
  await gotB.until(4);
  await gotA.until(6);
  await ownB.until(1);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(offsets(gotB.items), [3, 4, 5, 6], 'b got what it lacked, then live');
  assert.deepEqual(offsets(gotA.items), [1, 2, 3, 4, 5, 6], 'a saw the replay for b no second time');
  const s = await getStats(d.socketPath);
  assert.equal(s.connections, 1);
  assert.equal(s.subscriptions, 3, 'shared, only-a and own-b: one subscription each');

  // a leaves: its channels go, the shared one stays for b.
  a.close();
  await waitFor(async () => {
    const st = await getStats(d.socketPath);
    return { ok: st.subscriptions === 2, value: st.subscriptions };
  }, { what: 'only-a unsubscribed' });
});

test('a token from whichever tab can give one; null from a tab ends every tab', async (t) => {
  const env = { FANOUTD_DRAIN_WINDOW: '10ms', FANOUTD_DRAIN_RECONNECT_AFTER: '20ms' };
  let d = await start({ env });
  const { hub, tab } = world(d, t);
  let loggedOut = false;
  let asked = 0;
  const a = tab('a', async () => (loggedOut ? null : token()));
  const b = tab('b', async () => { asked++; throw new Error('this tab cannot'); });
  const states = collector();
  a.onState(states);
  a.hello();
  await waitFor(async () => ({ ok: a.state === 'open' }), { what: 'a open', timeoutMs: 10000 });
  b.hello();
  await waitFor(async () => ({ ok: b.state === 'open' }), { what: 'b open', timeoutMs: 10000 });
  const restart = async () => {
    const port = d.port;
    await stopDaemon(d);
    d = await start({ env, args: ['--listen', `127.0.0.1:${port}`] });
  };
  // The next connection's token: b, the newest tab, is asked first and
  // cannot; a gives it.
  await restart();
  // (b again at each attempt: the first one may come before the new daemon listens.)
  await waitFor(async () => ({ ok: hub.up.state === 'open' && asked >= 1, value: [hub.up.state, asked] }),
    { what: 'reconnected with a\'s token after asking b', timeoutMs: 10000 });
  loggedOut = true;
  await restart();
  await waitFor(async () => ({ ok: a.state === 'closed' && b.state === 'closed', value: [a.state, b.state] }),
    { what: 'every tab closed', timeoutMs: 10000 });
  assert.equal(states.items.at(-1).loggedOut, true);
});
