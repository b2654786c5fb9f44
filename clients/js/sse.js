// The Server-Sent Events fallback: GET /sse?channels=… read with fetch, so
// that the token travels in the Authorization header (never in the URL),
// Last-Event-ID resumes every channel at once, and the HTTP status of a
// refusal can be read (EventSource hides it).

/** The daemon's SSE URL next to its WebSocket URL: ws(s)://h/ws -> http(s)://h/sse. */
export function sseURL(wsURL) {
  const u = new URL(wsURL);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = '/sse';
  u.search = '';
  return u.href;
}

/**
 * Opens a stream and feeds it to link: link.message(json) per event,
 * link.onOpen() on a 200, link.ended({status, code, reason}) once when it
 * ends for any reason. Returns nothing; link.abort() ends it.
 */
export function openSSE(link, { url, channels, token, lastEventId, fetch, idleTimeoutMs }) {
  const ctrl = new AbortController();
  let idle;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => { ctrl.abort(); link.ended({ code: 4002, reason: 'no heartbeat' }); }, idleTimeoutMs);
  };
  link.abort = () => { clearTimeout(idle); ctrl.abort(); };
  const u = new URL(url);
  u.searchParams.set('channels', channels.join(','));
  const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${token}` };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  arm();
  fetch(u.href, { headers, signal: ctrl.signal, cache: 'no-store' }).then(async (res) => {
    if (res.status !== 200 || !res.body) {
      clearTimeout(idle);
      ctrl.abort();
      return link.ended({ status: res.status, code: 1006, reason: `HTTP ${res.status}` });
    }
    link.onOpen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      arm();
      buf += value;
      const lines = buf.split(/\r\n|\r|\n/);
      buf = lines.pop();
      for (const line of lines) {
        if (line === '') {
          if (data.length) link.message(data.join('\n'));
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line[5] === ' ' ? 6 : 5));
        }
      }
    }
    clearTimeout(idle);
    link.ended({ code: 1006, reason: 'stream ended' });
  }).catch((err) => {
    clearTimeout(idle);
    link.ended({ code: 1006, reason: String(err?.message ?? err) });
  });
}
