// Types of @fanoutd/client (hand-written; the code is plain JavaScript).

/** A place in a channel's stream (PROTOCOL.md §3a). */
export interface Position {
  offset: number;
  epoch: string;
}

/** An event as the daemon sends it. */
export interface FanoutEvent<P = unknown> {
  type: string;
  channel: string;
  /** Present on `project:<id>` channels (ADR-004). */
  projectId?: string;
  offset: number;
  epoch: string;
  payload?: P;
}

/** A `subscribed` reply. `recovered` is absent on a first subscribe, true or false on a resume. */
export interface SubscribedInfo extends Position {
  channel: string;
  recovered?: boolean;
}

/** A server `error` frame, or an `unsubscribed` frame with a code. */
export interface ServerError {
  type: string;
  id?: string;
  channel?: string;
  code: string;
  message?: string;
}

export interface CloseInfo {
  code: number;
  reason?: string;
  /** HTTP status of a refused SSE request. */
  status?: number;
  transport: Transport;
}

export type Transport = 'websocket' | 'sse';
export type State = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateEvent {
  state: State;
  transport: Transport;
  /** reconnecting: the attempt number (1 for the first retry) and the wait before it. */
  attempt?: number;
  delayMs?: number;
  /** reconnecting and closed: why the last connection ended. */
  code?: number;
  reason?: string;
  status?: number;
  /** closed: true when the end was terminal (no reconnect). */
  terminal?: boolean;
  /** open: the daemon's connection id. */
  connectionId?: string;
}

export interface Backoff {
  /** First bound in ms. Default 500. */
  initialMs?: number;
  /** Largest bound in ms. Default 20000. */
  maxMs?: number;
  /** Growth of the bound per attempt. Default 2. */
  factor?: number;
}

export interface SSEOptions {
  /** The daemon's SSE URL. Default: the WebSocket URL with http(s) and path /sse. */
  url?: string;
  /** Consecutive WebSocket attempts without a welcome before switching to SSE. Default 3. */
  afterFailures?: number;
  /** A stream silent this long (no event, no heartbeat) is replaced. Default 45000. */
  idleTimeoutMs?: number;
}

export interface ClientOptions {
  /** ws:// or wss:// URL of the daemon's WebSocket route. */
  url: string;
  /** Returns a token: called for every connect, reconnect and refresh. */
  getToken: () => string | Promise<string>;
  /** WebSocket constructor. Default globalThis.WebSocket. */
  WebSocket?: typeof WebSocket;
  /** fetch, for the SSE fallback. Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Reconnect delays. Default 0.5 s doubling to 20 s, full jitter. */
  backoff?: Backoff;
  /** Jitter source in [0, 1). Default Math.random. */
  random?: () => number;
  /** Application ping period. Default: the welcome's ping_interval_ms (30 s). */
  pingIntervalMs?: number;
  /** No message this long after a ping: the link is dead. Default 10000. */
  pongTimeoutMs?: number;
  /** A WebSocket not open by then is abandoned. Default 10000. */
  connectTimeoutMs?: number;
  /** Close codes that end the client. Default TERMINAL_CODES. */
  terminalCodes?: readonly number[];
  /** The SSE fallback; false turns it off. */
  sse?: SSEOptions | false;
  /** What fires `online` (a reconnect wait is cut short). Default globalThis (window). */
  window?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
}

export interface SubscribeOptions {
  /** Resume from this position on the first subscribe. */
  since?: Position;
  /** Every `subscribed` reply for this channel; `recovered === false` means events were lost: refetch. */
  onSubscribed?: (info: SubscribedInfo) => void;
  /** The daemon refused the channel (forbidden, invalid_channel, …); the subscription has ended. */
  onError?: (error: ServerError) => void;
}

export const TERMINAL_CODES: readonly number[];
export const TERMINAL_STATUSES: readonly number[];
export const DEFAULT_BACKOFF: Readonly<Required<Backoff>>;

/** The bound of attempt n's wait: min(maxMs, initialMs * factor^n). */
export function backoffBound(attempt: number, backoff?: Backoff): number;
/** Attempt n's wait: floor(random() * bound). */
export function backoffDelay(attempt: number, backoff?: Backoff, random?: () => number): number;

export class FanoutClient {
  constructor(options: ClientOptions);
  readonly state: State;
  readonly transport: Transport;
  connect(): this;
  close(): void;
  subscribe<P = unknown>(channel: string, handler: (event: FanoutEvent<P>) => void, options?: SubscribeOptions): () => void;
  on(type: 'subscribed', handler: (msg: SubscribedInfo & { type: 'subscribed' }) => void): () => void;
  on(type: 'close', handler: (info: CloseInfo) => void): () => void;
  on(type: 'error', handler: (error: ServerError) => void): () => void;
  on(type: 'missed', handler: (msg: { type: 'missed'; count: number }) => void): () => void;
  on<P = unknown>(type: string, handler: (event: FanoutEvent<P>) => void): () => void;
  onState(handler: (event: StateEvent) => void): () => void;
  position(channel: string): Position | null;
}

/** The slice of a TanStack QueryClient the helper uses. */
export interface QueryClientLike {
  invalidateQueries(filters: { queryKey: readonly unknown[] }): unknown;
}

export interface QueryBinding {
  channel: string;
  /** Every key the channel's events can make stale: invalidated on recovered:false and missed. */
  queryKeys?: readonly (readonly unknown[])[];
  /** The keys each event type invalidates; without it every event invalidates queryKeys. */
  on?: Record<string, (event: FanoutEvent) => readonly (readonly unknown[])[]>;
}

/** Invalidates queries on a channel's events and gaps; returns a function that ends the binding. */
export function bindQueries(client: FanoutClient, queryClient: QueryClientLike, binding: QueryBinding): () => void;
