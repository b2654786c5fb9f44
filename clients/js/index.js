// @fanoutd/client: a browser client for fanoutd's fanout.v1 protocol
// (PROTOCOL.md). No dependencies; ES2020 plus WebSocket and, for the SSE
// fallback, fetch with streaming bodies; the tabs of an origin share one
// connection through a SharedWorker (worker.js) or an elected tab.

export { FanoutClient, LOGGED_OUT, TERMINAL_CODES, TERMINAL_STATUSES } from './client.js';
export { DEFAULT_BACKOFF, backoffBound, backoffDelay } from './backoff.js';
export { bindQueries } from './queries.js';
