// A tab's end of the connection its origin's tabs share. The hub (hub.js)
// runs in a SharedWorker (worker.js) where the browser has one and the
// script loads, otherwise in one tab elected with a Web Lock, reached over a
// BroadcastChannel. Either way the tab speaks the same messages:
//
//   tab -> hub  {t:'hello', opts, subs: [[channel, position]…]}, {t:'sub', channel, since},
//               {t:'unsub', channel}, {t:'token', id, token | err}, {t:'net', on}, {t:'bye'}
//   hub -> tab  {t:'state', ev}, {t:'msg', m} (a daemon frame for this tab), {t:'token', id} (asks for one),
//               {t:'leader'} (a new hub: say hello again)
//
// Every tab message carries from (the tab's id); hub messages to (ids) in
// the elected-tab mode, where every tab hears every message. Each tab holds
// a Web Lock named after its id for its life: the hub asks for the same
// lock and is granted it when the tab is gone, however it went.

import { LOGGED_OUT } from './client.js';

// What the hub's own client takes from the first tab: plain data only.
const OPTS = ['url', 'backoff', 'pingIntervalMs', 'pongTimeoutMs', 'connectTimeoutMs', 'subscribeInURL', 'terminalCodes', 'sse'];

// A SharedWorker that says nothing within this long is given up for an elected tab.
const WORKER_WAIT_MS = 3000;

/** Connects client c to its origin's shared connection. */
export function attach(c) {
  const o = c._o;
  const w = o.window;
  const locks = w.navigator?.locks;
  if (!locks) return c._open(); // no Web Locks: no safe way to share
  const key = `fanoutd:${o.url}`;
  const id = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}`;
  let post = () => {};
  let release;
  let detach = () => {};
  const r = {
    id,
    post: (m) => post({ ...m, from: id }),
    bye() {
      r.post({ t: 'bye' });
      post = () => {};
      detach();
      release?.();
    },
  };
  c._remote = r;
  const hello = () => r.post({
    t: 'hello',
    key,
    opts: { ...Object.fromEntries(OPTS.map((k) => [k, o[k]])), sse: o.sse || false },
    subs: [...c._subs].map(([ch, s]) => [ch, s.pos]),
    on: o.isOnline(),
  });
  const got = (m) => {
    if (c._remote !== r || (m.to && !m.to.includes(id))) return;
    if (m.t === 'msg') c._frame(m.m);
    else if (m.t === 'state') mirror(c, m.ev);
    else if (m.t === 'token') token(c, r, m.id);
    else if (m.t === 'leader') hello();
  };
  const elect = () => {
    if (!w.BroadcastChannel) { // no way to reach the other tabs: this one connects on its own
      c._remote = null;
      return c._open();
    }
    r.mode = 'leader';
    detach = leader(w, locks, key, got, (p) => { post = p; }, hello);
  };
  const start = () => {
    if (c._remote !== r) return release(); // closed before the lock came
    if (o.shared === 'leader' || !w.SharedWorker || !o.workerUrl) return elect();
    let sw;
    try {
      sw = new w.SharedWorker(o.workerUrl, { name: key });
    } catch {
      return elect();
    }
    const port = sw.port;
    r.mode = 'worker';
    // The script did not load (or does not answer): an elected tab instead.
    const giveUp = () => {
      if (port.onmessage !== onMessage) return;
      clearTimeout(wait);
      port.onmessage = null;
      port.close();
      if (c._remote === r) elect();
    };
    const wait = setTimeout(giveUp, WORKER_WAIT_MS);
    const onMessage = (e) => { clearTimeout(wait); got(e.data); };
    sw.onerror = giveUp;
    port.onmessage = onMessage;
    post = (m) => port.postMessage(m);
    detach = () => port.close();
    hello();
  };
  // The lock is held before the hub hears of the tab, so that the hub's
  // request for it cannot be granted first.
  locks.request(`fanoutd-tab:${id}`, () => new Promise((done) => {
    release = done;
    start();
  }));
}

/** The elected-tab mode: a hub runs in whichever tab holds the lock. Returns detach. */
function leader(w, locks, key, got, setPost, hello) {
  const bc = new w.BroadcastChannel(key);
  bc.onmessage = (e) => { if (!e.data.from) got(e.data); };
  setPost((m) => bc.postMessage(m));
  let quit;
  const abort = new AbortController();
  // The hub's code is loaded only here: a browser with a SharedWorker never needs it in a tab.
  locks.request(`${key}:leader`, { signal: abort.signal }, () => import('./hub.js').then(({ Hub }) => new Promise((done) => {
    const out = new w.BroadcastChannel(key);
    const hub = new Hub((to, m) => out.postMessage({ ...m, to }), locks);
    out.onmessage = (e) => { if (e.data.from) hub.msg(e.data); };
    quit = () => { hub.stop(); out.close(); done(); };
    out.postMessage({ t: 'leader' }); // every tab, this one too, says hello to the new hub
  }))).catch(() => { /* aborted: detached before it was elected */ });
  hello();
  return () => {
    abort.abort();
    quit?.();
    bc.close();
  };
}

function mirror(c, ev) {
  c.transport = ev.transport;
  // The shared connection ended for good (the session is gone): so does this tab's client.
  if (ev.state === 'closed') c._end(ev);
  else c._setState(ev.state, ev);
}

/** The hub asks this tab for a token: a string, null (logged out) or an error. */
async function token(c, r, id) {
  let answer;
  try {
    answer = { token: (await c._o.getToken()) ?? null };
  } catch (err) {
    answer = err === LOGGED_OUT ? { token: null } : { err: String(err?.message ?? err) };
  }
  r.post({ t: 'token', id, ...answer });
}
