// The npm `ws` package (8.x) as a strict WebSocket client of the daemon's
// conformance echo route. Its receiver fails the connection on anything RFC
// 6455 forbids a server to send (masked frames, RSV bits, reserved opcodes,
// invalid UTF-8 in text, invalid close codes), so every reply the tests
// accept has passed a receiver we did not write.

import { randomBytes } from 'node:crypto';

import WsClient from 'ws';

const CASE_TIMEOUT_MS = 5_000;

/**
 * One masked client frame built by hand. `ws` refuses to send what some
 * conformance cases must send wrong (invalid close codes, oversized control
 * frames, RSV bits, reserved opcodes), so those go through writeRaw.
 */
export function clientFrame(opcode, payload = Buffer.alloc(0), { fin = true, rsv = 0 } = {}) {
  const data = Buffer.from(payload);
  if (data.length > 0xffff) throw new RangeError('clientFrame: payload over 65535 bytes');
  const ext = data.length > 125 ? 2 : 0;
  const head = Buffer.alloc(2 + ext + 4);
  head[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  head[1] = 0x80 | (ext ? 126 : data.length);
  if (ext) head.writeUInt16BE(data.length, 2);
  const mask = randomBytes(4);
  mask.copy(head, 2 + ext);
  const masked = Buffer.from(data.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([head, masked]);
}

/** A close frame payload: the code, then the reason's bytes. */
export function closePayload(code, reason = '') {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}

/** Writes raw bytes on the client's socket, behind `ws`'s back. */
export const writeRaw = (ws, ...frames) => ws._socket.write(Buffer.concat(frames));

// The reply log: what the client saw, in order, in a form deepStrictEqual
// compares and prints readably.
export const text = (s) => ({ text: s });
export const binary = (b) => ({ binary: Buffer.from(b).toString('hex') });
export const pong = (s) => ({ pong: Buffer.from(s).toString('hex') });
export const closed = (code) => ({ close: code });
// A message that arrived compressed (RSV1), inflated by `ws`.
export const ztext = (s) => ({ ztext: s });
export const zbinary = (b) => ({ zbinary: Buffer.from(b).toString('hex') });

/**
 * Opens a `ws` client on url, runs act(ws) and resolves with the log of
 * everything the client saw until the connection closed. want is the
 * expected log, ending with its close: when that is a 1000 and the replies
 * before it have arrived, the client closes with 1000 itself (unless act
 * began a close); any other code must come from the server. Rejects when
 * the connection does not close within the case timeout.
 *
 * deflate: offer permessage-deflate as `ws` does by default (with
 * client_max_window_bits), compressing every message the case sends with
 * `compress: true` whatever its size; messages that arrive compressed are
 * logged as ztext/zbinary, so a case says which replies must be.
 */
export function runCase(url, act, want, { deflate = false } = {}) {
  const replies = want.length - 1;
  const clientCloses = want.at(-1).close === 1000;
  const log = [];
  const ws = new WsClient(url, { perMessageDeflate: deflate ? { threshold: 0 } : false });
  let inflated = false; // the message being received went through the inflater
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no close within ${CASE_TIMEOUT_MS} ms; saw ${JSON.stringify(log)}`));
    }, CASE_TIMEOUT_MS);
    const closeIfDone = () => {
      if (clientCloses && log.length === replies && ws.readyState === WsClient.OPEN) ws.close(1000);
    };
    const record = (entry) => {
      log.push(entry);
      closeIfDone();
    };
    ws.on('message', (data, isBinary) => {
      const z = inflated;
      inflated = false;
      if (z) record(isBinary ? zbinary(data) : ztext(data.toString('utf8')));
      else record(isBinary ? binary(data) : text(data.toString('utf8')));
    });
    ws.on('pong', (data) => record(pong(data)));
    ws.on('error', (err) => log.push({ error: err.message }));
    ws.on('close', (code) => {
      clearTimeout(timer);
      log.push(closed(code));
      resolve(log);
    });
    ws.on('open', () => {
      if (ws.protocol !== '') log.push({ subprotocol: ws.protocol });
      const pmd = ws._extensions['permessage-deflate'];
      if (pmd) {
        // The receiver calls the extension's decompress for each frame of
        // a compressed message only: the way to tell what came compressed.
        const decompress = pmd.decompress.bind(pmd);
        pmd.decompress = (data, fin, cb) => { inflated = true; decompress(data, fin, cb); };
      }
      act(ws);
      closeIfDone();
    });
  });
}
