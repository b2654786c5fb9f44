// PublishStream: POST /v1/publish/stream, for publishing continuously. One
// long request whose body is NDJSON (one event per line, written without
// waiting) and whose answer is one ack line per event, in order. Lines
// queued in the same turn of the event loop go out as one chunk. The
// window caps events sent and not yet acknowledged: publish() queues what
// does not fit (sent in order as acks free room), and ready() lets a
// producer wait for room, which is the backpressure.

import { randomUUID } from 'node:crypto';
import { ConnectionError, apiError } from './errors.js';

const DEFAULT_WINDOW = 4096;

export class PublishStream {
  /** Use Publisher.stream(). */
  constructor(transport, { window = DEFAULT_WINDOW } = {}) {
    this.#window = window > 0 ? window : DEFAULT_WINDOW;
    this.#req = transport.openStream('/v1/publish/stream', 'application/x-ndjson');
    this.#req.on('error', (err) => this.#fail(new ConnectionError(`fanoutd: publish stream: ${err.message}`, { cause: err })));
    this.#req.on('response', (res) => this.#onResponse(res));
    this.#req.flushHeaders();
  }

  #window;
  #req;
  #res;
  #inflight = []; // {resolve, reject} per written event, in order
  #queue = []; // events waiting for room: {line, resolve, reject}
  #waiting = []; // ready() calls waiting for room
  #out = '';
  #scheduled = false;
  #acked = 0;
  #error;
  #closing; // the close() promise
  #ended;
  #bodyEnded = false;

  /** Events acknowledged so far. */
  get acked() { return this.#acked; }

  /**
   * Publishes one event on the stream. Resolves to its position
   * {channel, offset, epoch, duplicate?} when the daemon acks it; rejects
   * with an ApiError (status and error as /v1/publish would answer; index
   * is the event's number in the stream) when the daemon refused it, or a
   * ConnectionError when the stream broke before its ack. Every event
   * carries an idempotency key (idempotencyKey, or a random UUID), so
   * resending unacknowledged events after a break is safe. Events are sent
   * in call order; with the window full they wait in a queue (use ready()
   * to keep that queue short).
   */
  publish(channel, type, payload, { idempotencyKey } = {}) {
    const ev = { channel, type, idempotency_key: idempotencyKey ?? randomUUID() };
    if (payload !== undefined) ev.payload = payload;
    let line;
    try {
      line = `${JSON.stringify(ev)}\n`;
    } catch (err) {
      return Promise.reject(err); // nothing sent
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#closing) return Promise.reject(new ConnectionError('fanoutd: publish stream closed'));
    return new Promise((resolve, reject) => {
      this.#queue.push({ line, resolve, reject });
      this.#pump();
    });
  }

  /** Resolves when the window has room and nothing waits for it. */
  ready() {
    if (this.#room() || this.#error) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /**
   * Ends the stream's body once every queued event is sent, and resolves
   * once every event is acked (each publish() promise settles on its own).
   * Rejects with the error that broke the stream, if it broke.
   */
  close() {
    if (!this.#closing) {
      this.#closing = new Promise((resolve, reject) => { this.#ended = { resolve, reject }; });
      this.#pump();
    }
    return this.#closing;
  }

  #room() { return this.#queue.length === 0 && this.#inflight.length < this.#window; }

  // pump moves queued events into the window, schedules their write, and
  // ends the body when closing and nothing is left to send.
  #pump() {
    while (this.#queue.length > 0 && this.#inflight.length < this.#window && !this.#error) {
      const { line, resolve, reject } = this.#queue.shift();
      this.#inflight.push({ resolve, reject });
      this.#out += line;
    }
    if (this.#out !== '' && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    while (this.#waiting.length > 0 && this.#room()) this.#waiting.shift()();
    if (this.#closing && this.#queue.length === 0 && !this.#bodyEnded && !this.#error) {
      this.#flush();
      this.#bodyEnded = true;
      this.#req.end();
    }
    this.#maybeEnded();
  }

  #flush() {
    this.#scheduled = false;
    if (this.#out === '' || this.#error) return;
    const chunk = this.#out;
    this.#out = '';
    this.#req.write(chunk);
  }

  #onResponse(res) {
    this.#res = res;
    if (res.statusCode !== 200) {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let body;
        try { body = JSON.parse(text); } catch { body = { error: text.trim() || `HTTP ${res.statusCode}` }; }
        this.#fail(apiError(res.statusCode, body, res.headers));
      });
      return;
    }
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) this.#onAck(JSON.parse(line));
      }
    });
    res.on('end', () => {
      if (this.#inflight.length > 0) this.#fail(new ConnectionError(`fanoutd: publish stream ended with ${this.#inflight.length} events unacknowledged`));
      this.#maybeEnded();
    });
    res.on('error', (err) => this.#fail(new ConnectionError(`fanoutd: publish stream: ${err.message}`, { cause: err })));
  }

  #onAck(ack) {
    const p = this.#inflight.shift();
    if (p === undefined) return this.#fail(new ConnectionError('fanoutd: publish stream: an ack for no event'));
    this.#acked++;
    if (ack.status) {
      p.reject(apiError(ack.status, { error: ack.error, index: ack.index }, {}));
    } else {
      const pos = { channel: ack.channel, offset: ack.offset, epoch: ack.epoch };
      if (ack.duplicate) pos.duplicate = true;
      p.resolve(pos);
    }
    this.#pump();
  }

  #fail(err) {
    if (this.#error) return;
    this.#error = err;
    for (const p of this.#inflight.splice(0)) p.reject(err);
    for (const p of this.#queue.splice(0)) p.reject(err);
    for (const wake of this.#waiting.splice(0)) wake();
    this.#req.destroy();
    this.#maybeEnded();
  }

  #maybeEnded() {
    if (!this.#ended) return;
    if (this.#error) this.#ended.reject(this.#error);
    else if (this.#inflight.length === 0 && this.#res?.complete !== false) this.#ended.resolve();
  }
}
