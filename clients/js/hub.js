// The hub: one direct FanoutClient (the connection the tabs share) and the
// tabs attached to it (tab.js has the messages). Each channel is subscribed
// once for all the tabs that want it, each tab gets the events and frames of
// its own channels only, and a tab that comes with a position older than
// the connection's (a new hub after the elected tab closed: the tabs come
// back with what each has seen) makes the hub subscribe the channel again
// from that position, so that the daemon replays what that tab lacks; the
// tabs drop what they have seen already (client.js, _event).

import { FanoutClient } from './client.js';

// Frames every tab of a channel hears (every tab when they name none).
const RELAY = ['welcome', 'missed', 'join', 'leave', 'expiring', 'refreshed', 'error', 'close', 'pong'];

// A tab asked for a token that has not answered by then is passed over.
const TOKEN_WAIT_MS = 10000;

export class Hub {
  /** send(ids, message) reaches those tabs; locks is navigator.locks; gone(id) hears of a tab that left. */
  constructor(send, locks, gone) {
    this.send = send;
    this.locks = locks;
    this.gone = gone;
    this.tabs = new Map(); // id -> Set of channels
    this.chs = new Map(); // channel -> { tabs: Set of ids, waiting: [[id, since]], since, off }
    this.asks = new Map(); // token request id -> { id, ok, fail }
    this.n = 0;
    this.online = true;
    this.up = null;
  }

  /** One message from a tab. */
  msg(m) {
    const id = m.from;
    if (m.t === 'hello') return this.hello(id, m);
    if (!this.tabs.has(id)) return;
    if (m.t === 'sub') this.join(id, m.channel, m.since);
    else if (m.t === 'unsub') this.leave(id, m.channel);
    else if (m.t === 'bye') this.drop(id);
    else if (m.t === 'net') this.net(m.on);
    else if (m.t === 'token') {
      const a = this.asks.get(m.id);
      this.asks.delete(m.id);
      if (m.err) a?.fail(new Error(m.err));
      else a?.ok(m.token);
    }
  }

  hello(id, m) {
    for (const ch of this.tabs.get(id) ?? []) this.leave(id, ch); // again: start over
    this.tabs.set(id, new Set());
    this.locks?.request(`fanoutd-tab:${id}`, () => this.drop(id));
    const up = this.up ?? this.start(m.opts);
    for (const [ch, since] of m.subs) this.join(id, ch, since);
    this.online = m.on !== false;
    // A connection that ended (every tab left, or the session was gone) starts again.
    if (up.state === 'idle' || up.state === 'closed') up.connect();
    else this.send([id], { t: 'state', ev: { ...this.last, state: up.state, transport: up.transport } });
  }

  start(opts) {
    const up = new FanoutClient({ ...opts, shared: false, getToken: () => this.token(), isOnline: () => this.online });
    up.onState((ev) => {
      if (this.stopped) return;
      this.last = ev;
      if (ev.state !== 'open') for (const c of this.chs.values()) c.ready = false;
      this.send([...this.tabs.keys()], { t: 'state', ev });
    });
    for (const type of RELAY) {
      up.on(type, (m) => {
        const to = m.channel ? this.chs.get(m.channel)?.tabs : this.tabs.keys();
        if (to) this.send([...to], { t: 'msg', m: { ...m, type } });
      });
    }
    this.up = up;
    return up;
  }

  net(on) {
    this.online = on !== false;
    this.up?._wake();
  }

  /** Tab id wants channel ch, having seen everything up to since (or nothing). */
  join(id, ch, since) {
    this.tabs.get(id).add(ch);
    let c = this.chs.get(ch);
    if (c) {
      c.tabs.delete(id);
      c.waiting.push([id, since]);
      if (c.ready) this.settle(ch, c, this.up.position(ch));
      return;
    }
    c = { tabs: new Set([id]), waiting: [], since, ready: false };
    this.chs.set(ch, c);
    c.off = this.up.subscribe(ch, (e) => this.send([...c.tabs], { t: 'msg', m: e }), {
      since,
      onSubscribed: (info) => {
        c.ready = true;
        this.send([...c.tabs], { t: 'msg', m: { type: 'subscribed', ...info } });
        // After recovered:true the replay starts at the position subscribed from.
        this.settle(ch, c, info.recovered ? c.since : info, info);
      },
      onError: (err) => {
        this.chs.delete(ch);
        const ids = [...c.tabs, ...c.waiting.map(([t]) => t)];
        for (const t of ids) this.tabs.get(t)?.delete(ch);
        this.send(ids, { t: 'msg', m: { ...err, type: 'unsubscribed', channel: ch } });
      },
    });
  }

  /**
   * Places the tabs waiting for ch on a stream that covers everything after
   * floor: a tab that is behind it has the channel subscribed again from its
   * position (unless that was just tried and lost), the others are told
   * where they stand.
   */
  settle(ch, c, floor, reply = floor) {
    if (!floor) return;
    let min = null;
    if (reply.recovered !== false) {
      for (const [, s] of c.waiting) {
        if (s && s.epoch === floor.epoch && s.offset < floor.offset && !(min && min.offset <= s.offset)) min = s;
      }
    }
    if (min) {
      c.since = min;
      c.ready = false;
      return this.up._resubscribe(ch, min);
    }
    for (const [id, s] of c.waiting.splice(0)) {
      if (!this.tabs.get(id)?.has(ch)) continue;
      const m = { type: 'subscribed', channel: ch, offset: reply.offset, epoch: reply.epoch };
      if (s) m.recovered = s.epoch === floor.epoch && s.offset >= floor.offset;
      c.tabs.add(id);
      this.send([id], { t: 'msg', m });
    }
  }

  leave(id, ch) {
    this.tabs.get(id)?.delete(ch);
    const c = this.chs.get(ch);
    if (!c) return;
    c.tabs.delete(id);
    c.waiting = c.waiting.filter(([t]) => t !== id);
    if (c.tabs.size || c.waiting.length) return;
    this.chs.delete(ch);
    c.off();
  }

  drop(id) {
    const chs = this.tabs.get(id);
    if (!chs) return;
    for (const ch of chs) this.leave(id, ch);
    this.tabs.delete(id);
    this.gone?.(id);
    for (const a of this.asks.values()) if (a.id === id) a.fail(new Error('tab gone'));
    if (!this.tabs.size) this.up?.close();
  }

  /** A token from the newest tab that can give one; null (logged out) from any ends the connection. */
  async token() {
    let err = new Error('no tab to ask for a token');
    for (const id of [...this.tabs.keys()].reverse()) {
      try {
        return await new Promise((ok, fail) => {
          const n = ++this.n;
          const t = setTimeout(() => fail(new Error('token request timed out')), TOKEN_WAIT_MS);
          const done = (f) => (v) => { clearTimeout(t); this.asks.delete(n); f(v); };
          this.asks.set(n, { id, ok: done(ok), fail: done(fail) });
          this.send([id], { t: 'token', id: n });
        });
      } catch (e) {
        err = e;
      }
    }
    throw err;
  }

  /** The elected tab leaves: the tabs keep their state for the next hub. */
  stop() {
    this.stopped = true;
    this.up?.close();
  }
}
