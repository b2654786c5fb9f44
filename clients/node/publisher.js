// Publisher: the daemon's publish API as methods. Every event carries an
// idempotency key (the caller's, or a random UUID), so a retry after a
// network error, a timeout or a 503 can never publish an event twice
// within the daemon's idempotency.window: the daemon answers a repeated key
// with the first publish's position and duplicate: true.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, FanoutError, apiError } from './errors.js';
import { createTransport } from './transport.js';
import { PublishStream } from './stream.js';

const DEFAULTS = { timeoutMs: 5000, retries: 3, backoffMs: 100, maxBackoffMs: 2000 };

export class Publisher {
  /**
   * @param {object} o socketPath (the daemon's Unix socket) or url (its TCP
   *   listener, e.g. http://127.0.0.1:8080) with apiKey; timeoutMs per
   *   attempt (5000); retries after the first attempt (3); backoffMs and
   *   maxBackoffMs bound the full-jitter exponential backoff (100, 2000).
   */
  constructor(o = {}) {
    this.#t = createTransport(o);
    this.#o = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS)) if (o[k] !== undefined) this.#o[k] = o[k];
    this.#random = o.random ?? Math.random;
  }

  #t;
  #o;
  #random;

  /** Publishes one event; resolves to its position {channel, offset, epoch, duplicate?}. */
  async publish(channel, type, payload, options = {}) {
    const { idempotencyKey, ...rest } = options;
    const r = await this.publishBatch([{ channel, type, payload, idempotencyKey }], rest);
    return r.positions[0];
  }

  /**
   * Publishes events in order, all or nothing as far as validation goes:
   * one invalid event rejects the batch with InvalidEventsError and nothing
   * is published. Each event is {channel | projectId, type, payload?,
   * idempotencyKey?}. Resolves to {published, positions}.
   */
  async publishBatch(events, options = {}) {
    if (!Array.isArray(events) || events.length === 0) throw new TypeError('publishBatch: events must be a non-empty array');
    const body = JSON.stringify(events.map(wireEvent));
    return this.#withRetries(options, (timeoutMs) => this.#call('POST', '/v1/publish', { body, timeoutMs, signal: options.signal }));
  }

  /**
   * Opens a persistent publish stream (POST /v1/publish/stream) for
   * publishing continuously: events are pipelined and acked one by one.
   * window caps the events in flight (4096). See PublishStream.
   */
  stream({ window } = {}) { return new PublishStream(this.#t, { window }); }

  /** GET /v1/stats: the daemon's counters. Retried like a publish (reading is idempotent). */
  stats(options = {}) { return this.#get('/v1/stats', options); }

  /** GET /v1/channels: resolves to [{channel, subscribers, offset, epoch}]. */
  async channels(options = {}) { return (await this.#get('/v1/channels', options)).channels; }

  /** GET /v1/channels/{channel}/presence: resolves to [{connection_id, user, info?, node?}]. */
  async presence(channel, options = {}) {
    return (await this.#get(`/v1/channels/${encodeURIComponent(channel)}/presence`, options)).clients;
  }

  /**
   * GET /v1/events: yields the connection events ({seq, epoch, time, type,
   * connection_id, user, channel?, code?}, or {type: 'reset', …}) as they
   * happen, until signal aborts or the daemon ends the stream. Pass the
   * last seq and epoch handled as after and epoch to resume.
   */
  async *connectionEvents({ after, epoch, signal } = {}) {
    const q = new URLSearchParams();
    if (after !== undefined) q.set('after', String(after));
    if (epoch !== undefined) q.set('epoch', epoch);
    const r = await this.#t.request('GET', `/v1/events${q.size ? `?${q}` : ''}`, { stream: true, signal, timeoutMs: this.#o.timeoutMs });
    if (r.status !== 200) {
      let text = '';
      for await (const c of r.res) text += c;
      throw apiError(r.status, parse(text), r.headers);
    }
    let buf = '';
    try {
      for await (const chunk of r.res) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim()) yield JSON.parse(line);
        }
      }
    } catch (err) {
      if (!signal?.aborted) throw err; // an abort ends the stream quietly
    } finally {
      r.res.destroy();
    }
  }

  /** Closes idle connections; the Publisher must not be used afterwards. */
  close() { this.#t.agent.destroy(); }

  #get(path, options) {
    return this.#withRetries(options, (timeoutMs) => this.#call('GET', path, { timeoutMs, signal: options.signal }));
  }

  async #call(method, path, opts) {
    const r = await this.#t.request(method, path, opts);
    const body = parse(r.body);
    if (r.status >= 200 && r.status < 300) {
      if (body === undefined) throw new ApiError(r.status, { error: `answer is not JSON: ${r.body.slice(0, 200)}` });
      return body;
    }
    throw apiError(r.status, body ?? { error: r.body.slice(0, 256).trim() || `HTTP ${r.status}` }, r.headers);
  }

  // withRetries runs attempt until it succeeds, fails with an error that
  // is not retryable, or the retries are spent. Only retryable errors
  // (network, timeout, 503, 504) are retried, never a 4xx: the same request
  // would get the same answer.
  async #withRetries(options, attempt) {
    const retries = options.retries ?? this.#o.retries;
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    for (let n = 0; ; n++) {
      try {
        return await attempt(timeoutMs);
      } catch (err) {
        if (!(err instanceof FanoutError)) throw err;
        err.attempts = n + 1;
        if (!err.retryable || n >= retries || options.signal?.aborted) throw err;
        const cap = Math.min(this.#o.maxBackoffMs, this.#o.backoffMs * 2 ** n);
        await sleep(Math.max(err.retryAfterMs ?? 0, this.#random() * cap), undefined, { signal: options.signal });
      }
    }
  }
}

// wireEvent is the API's form of one event; an event without a key gets a
// random one here, once, so that every retry of the request carries it.
function wireEvent(e) {
  if (e === null || typeof e !== 'object') throw new TypeError('publishBatch: each event must be an object');
  const { idempotencyKey, idempotency_key: k2, payload, ...rest } = e;
  const out = { ...rest, idempotency_key: idempotencyKey ?? k2 ?? randomUUID() };
  if (payload !== undefined) out.payload = payload;
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

function parse(text) {
  try { return JSON.parse(text); } catch { return undefined; }
}
