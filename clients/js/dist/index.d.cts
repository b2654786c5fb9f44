// Types of @fanoutd/client (hand-written; the code is plain JavaScript).
// Self-contained: they compile without the DOM library (no lib "dom", no
// @types/node), so a worker, a server-side render or a test can import them.

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

// ---------------------------------------------------------------- control frames (PROTOCOL.md §3, §3b)

export interface WelcomeFrame {
  type: 'welcome';
  connection_id: string;
  user: string;
  protocol: string;
  ping_interval_ms: number;
  max_subscriptions: number;
  /** Absent for an anonymous connection. */
  expires_at?: number;
}

export interface SubscribedFrame extends SubscribedInfo {
  type: 'subscribed';
  id?: string | number;
  projectId?: string;
}

export interface UnsubscribedFrame {
  type: 'unsubscribed';
  id?: string | number;
  channel: string;
  projectId?: string;
  /** Present when the daemon ended the subscription (forbidden after a refresh, …). */
  code?: string;
  message?: string;
}

export interface PongFrame {
  type: 'pong';
  id?: string | number;
}

/** A server `error` frame; `refresh_failed` is the client's own (getToken failed at a refresh). */
export interface ErrorFrame {
  type: 'error';
  id?: string | number;
  code: 'bad_request' | 'unknown_action' | 'unauthorized' | 'invalid_channel' | 'forbidden'
    | 'too_many_subscriptions' | 'rate_limited' | 'refresh_failed' | (string & {});
  message?: string;
}

export interface ExpiringFrame {
  type: 'expiring';
  expires_at: number;
  expires_in_ms: number;
}

export interface RefreshedFrame {
  type: 'refreshed';
  id?: string | number;
  expires_at: number;
}

export interface JoinFrame {
  type: 'join';
  channel: string;
  connection_id: string;
  user: string;
  info?: unknown;
}

export interface LeaveFrame {
  type: 'leave';
  channel: string;
  connection_id: string;
  user: string;
}

/**
 * Events were lost: `count` queued events dropped for a drop-oldest channel
 * (no channel named), or a channel's events lost between nodes (`channel`).
 */
export type MissedFrame =
  | { type: 'missed'; count: number; channel?: undefined }
  | { type: 'missed'; channel: string; message?: string; count?: undefined };

/** A subscription refusal as onError sees it. */
export type ServerError = ErrorFrame | (UnsubscribedFrame & { code: string });

export interface CloseInfo {
  code: number;
  reason?: string;
  /** HTTP status of a refused SSE request. */
  status?: number;
  transport: Transport;
}

export type Transport = 'websocket' | 'sse';
export type State = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'offline' | 'closed';

export interface StateEvent {
  state: State;
  transport: Transport;
  /** reconnecting: the attempt number (1 for the first retry) and the wait before it. */
  attempt?: number;
  delayMs?: number;
  /** reconnecting, offline and closed: why the last connection ended. */
  code?: number;
  reason?: string;
  status?: number;
  /** closed: true when the end was terminal (no reconnect). */
  terminal?: boolean;
  /** closed: getToken said the session is gone (null or LOGGED_OUT). */
  loggedOut?: boolean;
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

/** The slice of a WebSocket the client uses (no DOM library needed). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // The events are `any` so that the DOM's WebSocket (whose handlers take
  // MessageEvent and CloseEvent) is assignable.
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
}

/** What the client listens to for online, offline and visibilitychange. */
export interface WindowLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
  navigator?: { onLine?: boolean };
  document?: { visibilityState?: string };
}

/** The SSE fallback's fetch: a streaming body is read. `init` is `any` so that the DOM's fetch is assignable. */
export type FetchLike = (url: string, init: any) => Promise<{ status: number; body: any }>;

/**
 * What getToken gives: a token, or null (or throwing LOGGED_OUT) when the
 * session is gone, which stops the client (closed, loggedOut: true). Any
 * other error is retried with backoff.
 */
export type TokenResult = string | null;

export interface ClientOptions {
  /** ws:// or wss:// URL of the daemon's WebSocket route. */
  url: string;
  /** Returns a token: called for every connect, reconnect and refresh. */
  getToken: () => TokenResult | Promise<TokenResult>;
  /**
   * Share one connection among the tabs of this origin (default: true where a
   * browser tab can: SharedWorker, else an elected tab over BroadcastChannel
   * and Web Locks). false: this client owns its connection. 'leader': an
   * elected tab even where a SharedWorker exists.
   */
  shared?: boolean | 'leader';
  /** worker.js's URL. Default: next to this module (new URL('./worker.js', import.meta.url)); null: no SharedWorker. */
  workerUrl?: string | { href: string } | null;
  /** WebSocket constructor. Default globalThis.WebSocket. */
  WebSocket?: new (url: string, protocols: string[]) => WebSocketLike;
  /** fetch, for the SSE fallback. Default globalThis.fetch. */
  fetch?: FetchLike;
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
  /**
   * Name the channels (and positions) in the connect URL, so that the daemon
   * subscribes them with its welcome: a round trip saved. Default true;
   * false keeps channel names out of proxies' access logs (subscribe
   * commands instead).
   */
  subscribeInURL?: boolean;
  /** Close codes that end the client. Default TERMINAL_CODES. */
  terminalCodes?: readonly number[];
  /** The SSE fallback; false turns it off. */
  sse?: SSEOptions | false;
  /** What fires online, offline and visibilitychange. Default globalThis (window). */
  window?: WindowLike;
  /** Whether the network is up. Default: navigator.onLine !== false. */
  isOnline?: () => boolean;
}

export interface SubscribeOptions {
  /** Resume from this position on the first subscribe. */
  since?: Position;
  /** Every `subscribed` reply for this channel; `recovered === false` means events were lost: refetch. */
  onSubscribed?: (info: SubscribedInfo) => void;
  /** The daemon refused the channel (forbidden, invalid_channel, …); the subscription has ended. */
  onError?: (error: ServerError) => void;
}

/** Control frames by type, as on() delivers them. */
export interface ControlFrames {
  welcome: WelcomeFrame;
  subscribed: SubscribedFrame;
  unsubscribed: UnsubscribedFrame;
  pong: PongFrame;
  error: ErrorFrame;
  expiring: ExpiringFrame;
  refreshed: RefreshedFrame;
  join: JoinFrame;
  leave: LeaveFrame;
  missed: MissedFrame;
  close: CloseInfo;
}

/** Any string that is not a control frame's type: an event type. */
export type EventType<T extends string> = T extends keyof ControlFrames ? never : T;

export const TERMINAL_CODES: readonly number[];
export const TERMINAL_STATUSES: readonly number[];
export const DEFAULT_BACKOFF: Readonly<Required<Backoff>>;
/** Thrown by getToken (like returning null): the session is gone, the client stops. */
export const LOGGED_OUT: Readonly<{ loggedOut: true }>;

/** The bound of attempt n's wait: min(maxMs, initialMs * factor^n). */
export function backoffBound(attempt: number, backoff?: Backoff): number;
/** Attempt n's wait: floor(random() * bound). */
export function backoffDelay(attempt: number, backoff?: Backoff, random?: () => number): number;

export class FanoutClient {
  constructor(options: ClientOptions);
  /** The same value as the LOGGED_OUT export. */
  static readonly LOGGED_OUT: Readonly<{ loggedOut: true }>;
  readonly state: State;
  readonly transport: Transport;
  connect(): this;
  close(): void;
  subscribe<P = unknown>(channel: string, handler: (event: FanoutEvent<P>) => void, options?: SubscribeOptions): () => void;
  on<K extends keyof ControlFrames>(type: K, handler: (frame: ControlFrames[K]) => void): () => void;
  on<P = unknown>(type: '*', handler: (event: FanoutEvent<P>) => void): () => void;
  on<T extends string, P = unknown>(type: EventType<T>, handler: (event: FanoutEvent<P>) => void): () => void;
  onState(handler: (event: StateEvent) => void): () => void;
  position(channel: string): Position | null;
}

/** The slice of a TanStack QueryClient the helper uses. */
export interface QueryClientLike {
  invalidateQueries(filters: { queryKey: readonly unknown[] }): unknown;
}

export interface QueryBinding {
  channel: string;
  /** Every key the channel's events can make stale: invalidated on the first subscribed, recovered:false and missed. */
  queryKeys?: readonly (readonly unknown[])[];
  /** The keys each event type invalidates; without it every event invalidates queryKeys. */
  on?: Record<string, (event: FanoutEvent) => readonly (readonly unknown[])[]>;
  /** The position the application's state is at: resume from it (recovered:true then needs no refetch). */
  since?: Position;
}

/** Invalidates queries on a channel's events and gaps; returns a function that ends the binding. */
export function bindQueries(client: FanoutClient, queryClient: QueryClientLike, binding: QueryBinding): () => void;
