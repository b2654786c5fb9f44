// Types of @fanoutd/publish. The wire shapes follow api/openapi.yaml.

/** Where the daemon is: its Unix socket, or its TCP listener with api.key. */
export type Endpoint =
  | { socketPath: string; url?: never; apiKey?: never }
  | { url: string; apiKey: string; socketPath?: never };

export type PublisherOptions = Endpoint & {
  /** Per attempt, in ms. Default 5000. */
  timeoutMs?: number;
  /** Retries after the first attempt, on network errors, timeouts, 503 and 504 only. Default 3. */
  retries?: number;
  /** Base of the full-jitter exponential backoff, in ms. Default 100. */
  backoffMs?: number;
  /** Cap of one backoff sleep, in ms (a longer Retry-After wins). Default 2000. */
  maxBackoffMs?: number;
  /** Source of jitter in [0, 1). Default Math.random. */
  random?: () => number;
};

export interface CallOptions {
  timeoutMs?: number;
  retries?: number;
  signal?: AbortSignal;
}

export interface PublishOptions extends CallOptions {
  /** Makes a retry within the daemon's idempotency.window return the first position. Default: a random UUID. */
  idempotencyKey?: string;
}

/** Any JSON value. */
export type JSONValue = string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

/** One event of a batch: channel, or projectId (the ADR-004 spelling of channel project:<id>). */
export type PublishEvent = {
  type: string;
  payload?: unknown;
  idempotencyKey?: string;
} & ({ channel: string; projectId?: string } | { projectId: string; channel?: string });

/** Where an event sits in its channel. */
export interface Position {
  channel: string;
  offset: number;
  epoch: string;
  /** true when the idempotency key was already published: the position is the first publish's. */
  duplicate?: boolean;
}

export interface Published {
  published: number;
  /** One per event, in order. */
  positions: Position[];
}

export interface InvalidEvent {
  /** 0-based position of the event in the batch. */
  index: number;
  error: string;
}

export interface ChannelCount {
  channel: string;
  subscribers: number;
  offset: number;
  epoch: string;
}

export interface PresenceClient {
  connection_id: string;
  user: string;
  info?: JSONValue;
  node?: string;
}

export type ConnectionEvent =
  | {
      seq: number;
      epoch: string;
      time: string;
      type: 'connect' | 'disconnect' | 'subscribe' | 'unsubscribe';
      connection_id: string;
      user: string;
      channel?: string;
      code?: number;
    }
  | { type: 'reset'; epoch: string; after: number };

/** The daemon's counters (GET /v1/stats); see api/openapi.yaml for every field. */
export interface Stats {
  connections: number;
  subscriptions: number;
  channels: number;
  published: number;
  delivered: number;
  duplicates: number;
  broker_up: boolean;
  [key: string]: unknown;
}

/**
 * A persistent publish stream: events are pipelined on one request and
 * acked one by one, in order. publish() queues events beyond the window;
 * await ready() before publishing to apply backpressure.
 */
export class PublishStream {
  /** Events acknowledged so far. */
  readonly acked: number;
  /** Resolves at the event's ack; rejects with ApiError (refused) or ConnectionError (stream broke). */
  publish(channel: string, type: string, payload?: unknown, options?: { idempotencyKey?: string }): Promise<Position>;
  /** Resolves when the window has room. */
  ready(): Promise<void>;
  /** Ends the body; resolves when every event is acked, rejects if the stream broke. */
  close(): Promise<void>;
}

export class Publisher {
  constructor(options: PublisherOptions);
  publish(channel: string, type: string, payload?: unknown, options?: PublishOptions): Promise<Position>;
  publishBatch(events: PublishEvent[], options?: CallOptions): Promise<Published>;
  /** Opens a persistent publish stream (POST /v1/publish/stream); window caps events in flight (default 4096). */
  stream(options?: { window?: number }): PublishStream;
  stats(options?: CallOptions): Promise<Stats>;
  channels(options?: CallOptions): Promise<ChannelCount[]>;
  presence(channel: string, options?: CallOptions): Promise<PresenceClient[]>;
  connectionEvents(options?: { after?: number; epoch?: string; signal?: AbortSignal }): AsyncGenerator<ConnectionEvent, void, undefined>;
  close(): void;
}

export interface MintOptions {
  sub: string;
  /** Channel patterns the connection may subscribe to ('project:*', 'user:{sub}'). */
  channels?: string[];
  /** Default 600. */
  ttlSeconds?: number;
  /** Shown in presence as is. */
  info?: JSONValue;
  /** ms since the epoch. Default Date.now(). */
  now?: number;
  [claim: string]: unknown;
}

/** An HS256 JWT for tests and development; secret is the daemon's auth.hmac_secret (at least 32 bytes). */
export function mintToken(secret: string | Buffer, options: MintOptions): string;

export class FanoutError extends Error {
  /** Attempts made before this error was thrown. */
  attempts: number;
  /** Whether a retry with the same idempotency keys is safe and may succeed. */
  readonly retryable: boolean;
}
/** The daemon could not be reached or the connection broke: outcome unknown. */
export class ConnectionError extends FanoutError {}
/** No answer within timeoutMs: outcome unknown. */
export class TimeoutError extends FanoutError {}
/** A non-2xx answer; the fields are the body's. */
export class ApiError extends FanoutError {
  status: number;
  body: unknown;
  error: string;
  /** Events published before the failure. */
  published: number;
  events: InvalidEvent[];
  /** 400 "malformed JSON": the event at which parsing stopped, and why. */
  index?: number;
  detail?: string;
  /** 413: the body limit in bytes. */
  limit?: number;
}
/** 400 "invalid event": nothing was published. */
export class InvalidEventsError extends ApiError {}
/** 401 (TCP, api.key) or 403 (Unix socket, peer not allowed). */
export class AuthError extends ApiError {}
/** 413: the request is over the daemon's limit. */
export class PayloadTooLargeError extends ApiError {}
/** 503 (broker unavailable) or 504 (outcome unknown). */
export class UnavailableError extends ApiError {
  retryAfterMs?: number;
}
