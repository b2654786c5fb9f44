// FanoutClient: the API, and the connection behind it. A client either owns
// its connection (the "direct" mode: a WebSocket, or SSE as a fallback) or,
// by default in a browser tab, is attached to the one connection its
// origin's tabs share (tab.js), which a hub (hub.js) runs in a SharedWorker
// or in the elected tab with a direct client of its own.

import { DEFAULT_BACKOFF, backoffDelay } from './backoff.js';
import { attach } from './tab.js';

/**
 * Close codes after which reconnecting cannot help: the client broke the
 * protocol (1002), sent binary (1003), invalid UTF-8 (1007), too many
 * fragments (1008) or too big a message (1009), or was revoked by the
 * server (4403: banned; a handshake is refused until the revocation
 * ends). 4001 (slow), 4002 (heartbeat), 4003 (token expired: a new token
 * is fetched), 4004 (disconnected by the server) and 1001 (restart)
 * reconnect.
 */
export const TERMINAL_CODES = Object.freeze([1002, 1003, 1007, 1008, 1009, 4403]);

/** HTTP statuses of the SSE route that end the client: reconnecting cannot help. */
export const TERMINAL_STATUSES = Object.freeze([400, 401, 403, 404]);

/**
 * What getToken throws (or returns null) to say the session is gone: the
 * client stops and its state becomes closed with loggedOut: true.
 */
export const LOGGED_OUT = Object.freeze({ loggedOut: true });

// Subscribe errors that end the subscription rather than being retried.
const FATAL_SUBSCRIBE = new Set(['forbidden', 'invalid_channel', 'too_many_subscriptions', 'bad_request']);

// The protocol's control frames; every other type is an event.
const CONTROL = new Set(['welcome', 'subscribed', 'unsubscribed', 'pong', 'error', 'expiring', 'refreshed',
  'join', 'leave', 'missed', 'close']);

// What the window tells: the network came or went, a tab woke up.
const WAKE = ['online', 'offline', 'visibilitychange'];

// A drain hint longer than this is not believed.
const MAX_HINT_MS = 600000;

export class FanoutClient {
  constructor(options) {
    const o = options ?? {};
    if (!o.url) throw new TypeError('FanoutClient: url is required');
    if (typeof o.getToken !== 'function') throw new TypeError('FanoutClient: getToken is required');
    const sse = o.sse === false ? null : (o.sse ?? {});
    const w = o.window ?? globalThis;
    this._o = {
      url: o.url,
      getToken: o.getToken,
      WebSocket: o.WebSocket ?? globalThis.WebSocket,
      fetch: o.fetch ?? globalThis.fetch?.bind(globalThis),
      backoff: { ...DEFAULT_BACKOFF, ...o.backoff },
      random: o.random ?? Math.random,
      pingIntervalMs: o.pingIntervalMs,
      pongTimeoutMs: o.pongTimeoutMs ?? 10000,
      connectTimeoutMs: o.connectTimeoutMs ?? 10000,
      subscribeInURL: o.subscribeInURL ?? true,
      terminalCodes: o.terminalCodes ?? TERMINAL_CODES,
      sse: sse && {
        url: sse.url,
        afterFailures: sse.afterFailures ?? 3,
        idleTimeoutMs: sse.idleTimeoutMs ?? 45000,
      },
      window: w,
      isOnline: o.isOnline ?? (() => w.navigator?.onLine !== false),
      // Sharing needs a tab (a document) and a way to reach the others.
      shared: o.shared ?? !!(w.document && w.navigator?.locks && (w.SharedWorker || w.BroadcastChannel)),
      workerUrl: o.workerUrl === undefined ? defaultWorkerUrl() : o.workerUrl,
    };
    /** 'idle' | 'connecting' | 'open' | 'reconnecting' | 'offline' | 'closed' */
    this.state = 'idle';
    /** 'websocket' | 'sse': what the next or current connection uses. */
    this.transport = 'websocket';
    this._subs = new Map(); // channel -> { entries: Set, pos: {offset, epoch} | null, ok: subscribed seen }
    this._on = new Map(); // type -> Set of handlers
    this._onState = new Set();
    this._pending = new Map(); // subscribe id -> channel
    this._link = null;
    this._remote = null; // the shared connection's end in this tab (tab.js)
    this._timer = null;
    this._attempt = 0; // consecutive reconnects since the last welcome
    this._failures = 0; // consecutive WebSocket attempts that got no welcome
    this._gen = 0;
    this._id = 0;
    this._wakeup = () => this._wake();
  }

  /** Connects (again, after close()). */
  connect() {
    if (this.state !== 'idle' && this.state !== 'closed') return this;
    this._stopped = false;
    this._attempt = 0;
    this._failures = 0;
    this.transport = 'websocket'; // a new start tries WebSockets again
    this._listen(true);
    if (!this._o.shared) this._open();
    else {
      this._setState('connecting');
      attach(this);
    }
    return this;
  }

  /** Closes for good (until connect()); subscriptions are kept for the next connect. */
  close() {
    this._end({ code: 1000, reason: 'client closed' });
  }

  /**
   * Calls handler(event) for every event of channel, from now on and, after
   * a reconnect, from where it left off. options.onSubscribed(info) sees each
   * subscribed reply ({channel, offset, epoch, recovered}); options.onError
   * (error) a refusal, which ends the subscription. Returns unsubscribe.
   */
  subscribe(channel, handler, options = {}) {
    let sub = this._subs.get(channel);
    const entry = { handler, ...options };
    if (!sub) {
      sub = { entries: new Set(), pos: options.since ?? null };
      this._subs.set(channel, sub);
      this._sendSubscribe(channel, sub);
    } else if (sub.ok) {
      // The channel was confirmed before this handler came: it hears of it now.
      queueMicrotask(() => sub.entries.has(entry) && entry.onSubscribed?.({ channel, ...sub.pos }));
    }
    sub.entries.add(entry);
    return () => {
      if (!sub.entries.delete(entry) || sub.entries.size > 0 || this._subs.get(channel) !== sub) return;
      this._subs.delete(channel);
      if (this._remote) this._remote.post({ t: 'unsub', channel });
      else if (this._link?.kind === 'sse') this._restartSSE();
      else this._send({ action: 'unsubscribe', channel });
    };
  }

  /**
   * Calls handler(message) for events of this type on any channel ('*': every
   * event), or for a control frame: 'subscribed', 'missed', 'error',
   * 'expiring', 'refreshed', 'join', 'leave', 'welcome', and 'close'
   * ({code, reason, transport}) when a connection ends. Returns off.
   */
  on(type, handler) {
    let set = this._on.get(type);
    if (!set) this._on.set(type, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Calls handler({state, transport, ...detail}) on every state change. Returns off. */
  onState(handler) {
    this._onState.add(handler);
    return () => this._onState.delete(handler);
  }

  /** The last position seen on channel ({offset, epoch}), or null. */
  position(channel) {
    return this._subs.get(channel)?.pos ?? null;
  }

  // ------------------------------------------------------------ connecting

  async _open() {
    const gen = ++this._gen;
    this._setState('connecting', { attempt: this._attempt });
    let token;
    try {
      token = await this._o.getToken();
    } catch (err) {
      if (gen !== this._gen || this._stopped) return;
      if (err === LOGGED_OUT) return this._loggedOut();
      return this._retry({ code: 1006, reason: `getToken: ${err?.message ?? err}` });
    }
    if (gen !== this._gen || this._stopped) return;
    if (token == null) return this._loggedOut();
    if (this.transport === 'sse') this._openSSE(token);
    else this._openWS(token);
  }

  _openWS(token) {
    const { url, channels } = connectURL(this._o.url, this._o.subscribeInURL ? this._subs : new Map());
    const ws = new this._o.WebSocket(url, ['fanout.v1', `bearer.${token}`]);
    const link = this._newLink('websocket');
    link.inURL = channels;
    link.send = (msg) => ws.readyState === 1 && (ws.send(JSON.stringify(msg)), true);
    link.close = (code, reason) => {
      link.stop();
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(code, reason); } catch { /* closing a socket that never opened */ }
    };
    link.arm(this._o.connectTimeoutMs, () => this._ended(link, { code: 1006, reason: 'connect timeout' }, true));
    ws.onopen = () => { link.opened = true; clearTimeout(link.t); };
    ws.onmessage = (e) => this._receive(link, e.data);
    ws.onclose = (e) => this._ended(link, { code: e.code, reason: e.reason });
    // A failed handshake fires error; some runtimes fire no close after it.
    ws.onerror = () => { if (!link.opened) this._ended(link, { code: 1006, reason: 'connection failed' }, true); };
  }

  /** The fallback's code is loaded when it is first needed: most pages never need it. */
  _openSSE(token) {
    const link = this._newLink('sse');
    link.send = () => false;
    link.close = () => { link.stop(); link.abort?.(); };
    link.message = (data) => this._receive(link, data);
    link.ended = (info) => this._ended(link, link.closeInfo ?? info, true);
    link.onOpen = () => { link.opened = true; };
    const s = this._o.sse;
    import('./sse.js').then(({ openSSE, sseURL }) => {
      if (this._link !== link) return;
      openSSE(link, {
        url: s.url ?? sseURL(this._o.url), channels: [...this._subs.keys()], token, fetch: this._o.fetch,
        idleTimeoutMs: s.idleTimeoutMs, lastEventId: formatPositions([...this._subs].map(([ch, sub]) => [ch, sub.pos])),
      });
    }, (err) => link.ended({ code: 1006, reason: String(err?.message ?? err) }));
  }

  /**
   * A link has one timer for its whole life: the connect timeout, then the
   * application ping and its pong deadline, re-armed in turn.
   */
  _newLink(kind) {
    const link = { kind, opened: false, lastSeen: 0, t: 0 };
    link.arm = (ms, f) => { clearTimeout(link.t); link.t = setTimeout(f, ms); };
    link.stop = () => clearTimeout(link.t);
    this._link = link;
    return link;
  }

  /** A link ended: reconnect (after the daemon's hint, or with backoff) unless the end is terminal. */
  _ended(link, { code, reason, status }, abandon = false) {
    if (this._link !== link) return;
    this._link = null;
    this._pending.clear();
    for (const sub of this._subs.values()) sub.ok = false;
    if (abandon) link.close(4000, 'abandoned');
    else link.stop();
    this._emit('close', { code, reason, status, transport: link.kind });
    if (this._stopped) return;
    const terminal = link.kind === 'sse' ? TERMINAL_STATUSES.includes(status) : false;
    if (terminal || this._o.terminalCodes.includes(code)) return this._end({ code, reason, status, terminal: true });
    if (link.kind === 'websocket' && !link.welcomed && this._o.sse && ++this._failures >= this._o.sse.afterFailures) {
      this.transport = 'sse';
    }
    this._retry({ code, reason, status }, drainHint(reason));
  }

  /** Waits hintMs (the daemon said when to come back) or a backoff delay; nothing while offline. */
  _retry(detail, hintMs) {
    if (!this._o.isOnline()) return this._setState('offline', detail);
    const delayMs = hintMs ?? backoffDelay(this._attempt, this._o.backoff, this._o.random);
    this._attempt++;
    this._setState('reconnecting', { ...detail, attempt: this._attempt, delayMs });
    this._timer = setTimeout(() => this._open(), delayMs);
  }

  /**
   * The network came or went, or the tab became visible: while offline
   * nothing is tried; back online (or awake) a waiting reconnect starts at
   * once, and an open link is checked with a ping (a tab that slept may hold
   * a dead one).
   */
  _wake() {
    if (this._remote) return this._remote.post({ t: 'net', on: this._o.isOnline() });
    if (this._stopped) return;
    const waiting = this.state === 'reconnecting' || this.state === 'offline';
    if (!this._o.isOnline()) {
      if (waiting) {
        clearTimeout(this._timer);
        this._setState('offline');
      } else this._link?.probe?.();
    } else if (waiting) {
      clearTimeout(this._timer);
      this._attempt = 0;
      this._open();
    } else if (this._o.window.document?.visibilityState !== 'hidden') this._link?.probe?.();
  }

  _listen(on) {
    const w = this._o.window;
    for (const t of WAKE) w[on ? 'addEventListener' : 'removeEventListener']?.(t, this._wakeup);
  }

  _loggedOut() {
    this._end({ code: 1000, reason: 'logged out', terminal: true, loggedOut: true });
  }

  /** Stops for good (until connect()) with detail as the closed state's. */
  _end(detail) {
    this._stopped = true;
    clearTimeout(this._timer);
    this._listen(false);
    this._remote?.bye();
    this._remote = null;
    const link = this._link;
    this._link = null;
    link?.close(1000, detail.reason);
    this._setState('closed', detail);
  }

  // ------------------------------------------------------------ messages

  _receive(link, data) {
    if (this._link !== link) return;
    link.lastSeen = Date.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg && typeof msg.type === 'string') this._frame(msg, link);
  }

  /** One message from the daemon (link) or from the shared connection's hub (no link). */
  _frame(msg, link) {
    if (!CONTROL.has(msg.type)) return this._event(msg);
    switch (msg.type) {
      case 'welcome': if (link) this._welcome(link, msg); break;
      case 'subscribed': this._subscribed(msg); break;
      case 'unsubscribed': if (msg.code) this._refused(msg.channel, msg); break;
      case 'error': if (this._pending.has(msg.id) && FATAL_SUBSCRIBE.has(msg.code)) this._refused(this._pending.get(msg.id), msg); break;
      case 'expiring': if (link) this._refresh(link); break;
      case 'close': if (link) link.closeInfo = { code: msg.code, reason: msg.reason }; break;
    }
    if (msg.id !== undefined) this._pending.delete(msg.id);
    this._emit(msg.type, msg);
  }

  _welcome(link, msg) {
    link.welcomed = true;
    this._attempt = 0;
    if (link.kind === 'websocket') this._failures = 0;
    this._setState('open', { connectionId: msg.connection_id });
    if (link.kind === 'sse') return; // the stream's URL subscribed every channel
    // The URL's channels are subscribed already, unless the daemon predates
    // that (no url_channels): then by command, as channels added since.
    const inURL = new Set(msg.url_channels === link.inURL.length ? link.inURL : []);
    for (const [channel, sub] of this._subs) if (!inURL.has(channel)) this._sendSubscribe(channel, sub);
    for (const channel of inURL) if (!this._subs.has(channel)) this._send({ action: 'unsubscribe', channel });
    this._pinging(link, this._o.pingIntervalMs ?? (msg.ping_interval_ms || 30000));
  }

  /**
   * The application ping (browsers cannot see WebSocket pings, so a silent
   * link is found this way), on the link's one timer: wait, ping, wait for
   * anything at all, again. probe() pings now.
   */
  _pinging(link, every) {
    const pongMs = this._o.pongTimeoutMs;
    const tick = () => {
      const now = Date.now();
      const sent = link.sent;
      if (sent && link.lastSeen < sent) {
        if (now - sent >= pongMs) return this._ended(link, { code: 4002, reason: 'no pong' }, true);
        return link.arm(sent + pongMs - now, tick);
      }
      if (sent && now - sent < every) return link.arm(sent + every - now, tick);
      link.sent = now;
      link.send({ action: 'ping' });
      link.arm(Math.min(pongMs, every), tick);
    };
    link.probe = () => {
      if (link.sent && link.lastSeen < link.sent) return;
      link.sent = 0;
      link.arm(0, tick);
    };
    link.arm(every, tick);
  }

  _subscribed(msg) {
    const sub = this._subs.get(msg.channel);
    if (!sub) return;
    sub.ok = true;
    // With recovered:true the replay follows and moves the position; the
    // reply's offset is the channel's newest, not the last event handled.
    if (msg.recovered !== true) sub.pos = { offset: msg.offset, epoch: msg.epoch };
    const info = { channel: msg.channel, offset: msg.offset, epoch: msg.epoch, recovered: msg.recovered };
    for (const e of [...sub.entries]) e.onSubscribed?.(info);
  }

  _refused(channel, msg) {
    const sub = this._subs.get(channel);
    if (!sub) return;
    this._subs.delete(channel);
    for (const e of [...sub.entries]) e.onError?.(msg);
  }

  async _refresh(link) {
    if (link.kind === 'sse') return this._restartSSE();
    try {
      const token = await this._o.getToken();
      if (token == null) return this._loggedOut();
      link.send({ action: 'refresh', token, id: this._nextId() });
    } catch (err) {
      if (err === LOGGED_OUT) return this._loggedOut();
      this._emit('error', { type: 'error', code: 'refresh_failed', message: String(err?.message ?? err) });
    }
  }

  _event(msg) {
    const sub = this._subs.get(msg.channel);
    if (sub && typeof msg.offset === 'number') {
      // A shared connection replays from the oldest position its tabs gave:
      // what this tab has seen already is dropped here.
      const p = sub.pos;
      if (this._remote && p && p.epoch === msg.epoch && msg.offset <= p.offset) return;
      sub.pos = { offset: msg.offset, epoch: msg.epoch };
    }
    if (sub) for (const e of [...sub.entries]) e.handler(msg);
    this._emit(msg.type, msg);
    this._emit('*', msg);
  }

  _emit(type, msg) {
    const set = this._on.get(type);
    if (set) for (const h of [...set]) h(msg);
  }

  _sendSubscribe(channel, sub) {
    if (this._remote) return this._remote.post({ t: 'sub', channel, since: sub.pos });
    if (this._link?.kind === 'sse') return this._restartSSE();
    const id = this._nextId();
    const cmd = { action: 'subscribe', channel, id };
    if (sub.pos) cmd.since = sub.pos;
    if (this._send(cmd)) this._pending.set(id, channel);
  }

  /**
   * Subscribes channel again from since, which is older than what the
   * connection has: the hub does it for a tab that is behind the others.
   */
  _resubscribe(channel, since) {
    const sub = this._subs.get(channel);
    if (!sub) return;
    sub.pos = since;
    sub.ok = false;
    if (this._link?.kind === 'sse') return this._restartSSE();
    if (this._send({ action: 'unsubscribe', channel })) this._sendSubscribe(channel, sub);
  }

  _send(cmd) {
    return this.state === 'open' && this._link?.kind === 'websocket' && this._link.send(cmd);
  }

  _nextId() {
    return String(++this._id);
  }

  /** A new stream with the current channels and positions: SSE cannot change its subscriptions in place. */
  _restartSSE() {
    if (this._restarting) return;
    this._restarting = true;
    queueMicrotask(() => {
      this._restarting = false;
      const link = this._link;
      if (link?.kind !== 'sse' || this._stopped) return;
      this._link = null;
      link.close();
      this._open();
    });
  }

  _setState(state, detail = {}) {
    if (this.state === state && state !== 'reconnecting') return;
    this.state = state;
    const ev = { state, transport: this.transport, ...detail };
    for (const h of [...this._onState]) h(ev);
  }
}

/** reconnect_after_ms from a drain's close reason (PROTOCOL.md §6), or undefined. */
function drainHint(reason) {
  try {
    const ms = JSON.parse(reason).reconnect_after_ms;
    if (ms >= 0 && ms <= MAX_HINT_MS) return ms;
  } catch { /* not a hint */ }
  return undefined;
}

/**
 * Positions as the daemon writes them in an SSE id and reads them in
 * last_event_id: "channel offset epoch" triples joined by spaces (neither
 * channel names nor epochs contain one), the empty epoch (a channel a
 * broker has numbered nothing in) as "-".
 */
export function formatPositions(positions) {
  const out = [];
  for (const [channel, p] of positions) if (p) out.push(`${channel} ${p.offset} ${p.epoch || '-'}`);
  return out.join(' ');
}

/**
 * The WebSocket URL naming subs' channels and positions, which the daemon
 * subscribes before its welcome (a round trip saved); the plain URL when
 * there are none or the URL would pass 4 KiB (the daemon's request head is
 * capped at 16 KiB, with the token in it).
 */
export function connectURL(base, subs) {
  if (!subs.size) return { url: base, channels: [] };
  const u = new URL(base);
  for (const channel of subs.keys()) u.searchParams.append('channel', channel);
  const since = formatPositions([...subs].map(([ch, sub]) => [ch, sub.pos]));
  if (since) u.searchParams.set('last_event_id', since);
  return u.href.length > 4096 ? { url: base, channels: [] } : { url: u.href, channels: [...subs.keys()] };
}

/**
 * The shared worker's script, shipped next to this module. A bundler that
 * understands new URL(…, import.meta.url) (webpack 5, Vite, Parcel) emits it;
 * where the URL cannot be made (a CommonJS build) sharing falls back to an
 * elected tab, which needs no script.
 */
function defaultWorkerUrl() {
  try {
    return new URL('./worker.js', import.meta.url).href;
  } catch {
    return null;
  }
}

FanoutClient.LOGGED_OUT = LOGGED_OUT;
