// The errors the publisher throws. Every one is a FanoutError; the daemon's
// answers are ApiErrors carrying its body's fields, with a subclass per
// kind of answer a caller handles differently.

/** Every error of this package. */
export class FanoutError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
    /** How many attempts were made (1 without retries). */
    this.attempts = 1;
  }

  /** Whether the outcome is unknown or transient, so that a retry with the same idempotency keys is safe and useful. */
  get retryable() { return false; }
}

/** The daemon could not be reached, or the connection failed mid-request: the outcome is unknown. */
export class ConnectionError extends FanoutError {
  get retryable() { return true; }
}

/** No answer within timeoutMs: the outcome is unknown (the events may have been published). */
export class TimeoutError extends FanoutError {
  get retryable() { return true; }
}

/**
 * A non-2xx answer of the daemon. status is the HTTP status; the other
 * fields are those of the body (see api/openapi.yaml): error, published
 * (events published before a failure), events (the invalid events of a 400
 * "invalid event"), index and detail (a 400 "malformed JSON"), limit (413).
 */
export class ApiError extends FanoutError {
  constructor(status, body, options) {
    super(describe(status, body), options);
    this.status = status;
    this.body = body;
    this.error = body?.error ?? '';
    this.published = body?.published ?? 0;
    this.events = body?.events ?? [];
    this.index = body?.index;
    this.detail = body?.detail;
    this.limit = body?.limit;
  }
}

/** 400 "invalid event": nothing was published; events lists every invalid event as {index, error}. */
export class InvalidEventsError extends ApiError {}

/** 401 (TCP: missing or wrong api.key) or 403 (Unix socket: this process's uid/gid is not allowed). */
export class AuthError extends ApiError {}

/** 413: the request body exceeds the daemon's limits.max_publish_bytes (limit). Split the batch. */
export class PayloadTooLargeError extends ApiError {}

/**
 * 503 (the broker is unavailable; retryAfterMs from Retry-After) or 504 (a
 * proxy gave up: the outcome is unknown). published events of the last
 * attempt went out before the failure.
 */
export class UnavailableError extends ApiError {
  constructor(status, body, retryAfterMs, options) {
    super(status, body, options);
    this.retryAfterMs = retryAfterMs;
  }

  get retryable() { return true; }
}

/** The ApiError subclass for an answer. */
export function apiError(status, body, headers) {
  if (status === 400 && Array.isArray(body?.events)) return new InvalidEventsError(status, body);
  if (status === 401 || status === 403) return new AuthError(status, body);
  if (status === 413) return new PayloadTooLargeError(status, body);
  if (status === 503 || status === 504) {
    const s = Number(headers?.['retry-after']);
    return new UnavailableError(status, body, Number.isFinite(s) && s >= 0 ? s * 1000 : undefined);
  }
  return new ApiError(status, body);
}

function describe(status, body) {
  let msg = `fanoutd: ${status} ${body?.error || 'error'}`;
  if (body?.detail) msg += `: ${body.detail}`;
  const events = body?.events;
  if (Array.isArray(events) && events.length > 0) {
    msg += `: event ${events[0].index}: ${events[0].error}`;
    if (events.length > 1) msg += ` (and ${events.length - 1} more)`;
  }
  if (body?.published > 0) msg += ` (${body.published} published)`;
  return msg;
}
