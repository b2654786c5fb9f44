// Autobahn-style cases against the conformance echo route
// (conformance.echo_path), driven by the npm `ws` package as a strict client
// we did not write. Each case asserts the exact replies and close code that
// RFC 6455 requires. Needs `npm ci` in test/node (make test-node runs it).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { buildDaemon, rawUpgrade, removeTempDirs, startDaemon, stopDaemon } from './helpers.mjs';
import {
  binary, clientFrame, closePayload, closed, pong, runCase, text, writeRaw, zbinary, ztext,
} from './strict-client.mjs';

const SECRET = randomBytes(32).toString('hex');
const LIMIT = 16384; // limits.max_message_size of the echo daemon
const MAX_FRAGMENTS = 64; // the default limits.max_fragments
const ECHO_ENV = {
  FANOUTD_CONFORMANCE_ENABLED: 'true',
  FANOUTD_CONFORMANCE_ECHO_PATH: '/echo',
  FANOUTD_LIMITS_MAX_MESSAGE_SIZE: String(LIMIT),
};

const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };
const a = (n) => 'a'.repeat(n);
const bytes = (n) => Buffer.alloc(n, 0xab);
const fragments = (ws, parts, opts = {}) => parts.forEach((p, i) => ws.send(p, { ...opts, fin: i === parts.length - 1 }));

// [name, act(ws), expected log]. Every case ends with its close code; 1000
// means the replies were right and the client closed normally.
const cases = {
  '1 framing: text and binary echoed with their opcode': [
    ['empty text', (ws) => ws.send(''), [text(''), closed(1000)]],
    ['multi-byte text', (ws) => ws.send('Hello, κόσμε 😀'), [text('Hello, κόσμε 😀'), closed(1000)]],
    ['text of 125 bytes (7-bit length)', (ws) => ws.send(a(125)), [text(a(125)), closed(1000)]],
    ['text of 126 bytes (16-bit length)', (ws) => ws.send(a(126)), [text(a(126)), closed(1000)]],
    ['empty binary', (ws) => ws.send(Buffer.alloc(0)), [binary([]), closed(1000)]],
    ['binary with every byte value', (ws) => ws.send(Buffer.from([...Array(256).keys()])),
      [binary([...Array(256).keys()]), closed(1000)]],
    ['two messages in order', (ws) => { ws.send('one'); ws.send(Buffer.from([2])); },
      [text('one'), binary([2]), closed(1000)]],
  ],
  '2 pings and pongs': [
    ['ping payload answered in the pong', (ws) => ws.ping('hello'), [pong('hello'), closed(1000)]],
    ['125-byte binary ping', (ws) => ws.ping(bytes(125)), [pong(bytes(125)), closed(1000)]],
    ['unsolicited pong ignored', (ws) => { ws.pong('x'); ws.send('after'); }, [text('after'), closed(1000)]],
    ['126-byte ping is a protocol error', (ws) => writeRaw(ws, clientFrame(OP.ping, bytes(126))), [closed(1002)]],
    ['fragmented ping is a protocol error', (ws) => writeRaw(ws, clientFrame(OP.ping, 'x', { fin: false })), [closed(1002)]],
  ],
  '3 reserved bits': [
    ['RSV1 without an extension', (ws) => writeRaw(ws, clientFrame(OP.text, 'x', { rsv: 4 })), [closed(1002)]],
    ['RSV3 on a ping', (ws) => writeRaw(ws, clientFrame(OP.ping, 'x', { rsv: 1 })), [closed(1002)]],
  ],
  '4 opcodes': [
    ['reserved data opcode 3', (ws) => writeRaw(ws, clientFrame(3)), [closed(1002)]],
    ['reserved control opcode 0xB', (ws) => writeRaw(ws, clientFrame(0xb)), [closed(1002)]],
  ],
  '5 fragmentation': [
    ['text in two fragments', (ws) => fragments(ws, ['Hello, ', 'world']), [text('Hello, world'), closed(1000)]],
    ['binary in three fragments', (ws) => fragments(ws, [Buffer.from([1]), Buffer.from([2]), Buffer.from([3])]),
      [binary([1, 2, 3]), closed(1000)]],
    ['pings between fragments answered first', (ws) => {
      ws.send('fra', { fin: false });
      ws.ping('p1');
      ws.send('gm', { fin: false });
      ws.ping('p2');
      ws.send('ented', { fin: true });
    }, [pong('p1'), pong('p2'), text('fragmented'), closed(1000)]],
    ['empty fragments', (ws) => fragments(ws, ['', 'x', '']), [text('x'), closed(1000)]],
    ['continuation without a message', (ws) => writeRaw(ws, clientFrame(OP.cont, 'x')), [closed(1002)]],
    ['new message inside a fragmented one', (ws) => writeRaw(ws,
      clientFrame(OP.text, 'a', { fin: false }), clientFrame(OP.text, 'b')), [closed(1002)]],
  ],
  '6 UTF-8': [
    ['two-byte character split across fragments', (ws) => {
      const k = Buffer.from('κόσμε');
      fragments(ws, [k.subarray(0, 1), k.subarray(1)], { binary: false });
    }, [text('κόσμε'), closed(1000)]],
    ['four-byte character one byte per fragment', (ws) => {
      const e = Buffer.from('😀');
      fragments(ws, [...e].map((b) => Buffer.from([b])), { binary: false });
    }, [text('😀'), closed(1000)]],
    ['invalid byte', (ws) => ws.send(Buffer.from([0xce, 0xba, 0xff]), { binary: false }), [closed(1007)]],
    ['truncated sequence at the end', (ws) => ws.send(Buffer.from([0xce, 0xba, 0xe1, 0xbd]), { binary: false }),
      [closed(1007)]],
    ['overlong encoding of "/"', (ws) => ws.send(Buffer.from([0xc0, 0xaf]), { binary: false }), [closed(1007)]],
    ['UTF-16 surrogate half', (ws) => ws.send(Buffer.from([0xed, 0xa0, 0x80]), { binary: false }), [closed(1007)]],
    ['invalid across fragments', (ws) => fragments(ws, [Buffer.from([0xce]), Buffer.from([0xff])], { binary: false }),
      [closed(1007)]],
    // Fail fast (Autobahn 6.4.1–6.4.4 "strict"): 1007 as soon as the bytes
    // arrive, in a message that is never finished.
    ['invalid first fragment, message never finished', (ws) => writeRaw(ws,
      clientFrame(OP.text, Buffer.from([0xce, 0xba, 0xff]), { fin: false })), [closed(1007)]],
    ['valid fragment, then one that makes it invalid, never finished', (ws) => writeRaw(ws,
      clientFrame(OP.text, 'κόσμε', { fin: false }), clientFrame(OP.cont, Buffer.from([0xf4, 0x90]), { fin: false })),
    [closed(1007)]],
    ['invalid bytes in the received part of a frame still arriving', (ws) => writeRaw(ws,
      clientFrame(OP.text, Buffer.concat([Buffer.from('κόσμε'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), bytes(300)]))
        .subarray(0, 40)), [closed(1007)]],
    ['invalid bytes in binary are data', (ws) => ws.send(Buffer.from([0xff, 0xfe])), [binary([0xff, 0xfe]), closed(1000)]],
  ],
  '7 close handling': [
    ...[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999].map(
      (code) => [`code ${code} echoed`, (ws) => ws.close(code, 'bye'), [closed(code)]]),
    ['UTF-8 reason accepted', (ws) => ws.close(1000, 'κόσμε'), [closed(1000)]],
    ['123-byte reason accepted', (ws) => ws.close(4000, a(123)), [closed(4000)]],
    ['no status answered 1000', (ws) => writeRaw(ws, clientFrame(OP.close)), [closed(1000)]],
    ['one-byte payload', (ws) => writeRaw(ws, clientFrame(OP.close, [0x03])), [closed(1002)]],
    ...[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].map(
      (code) => [`invalid code ${code} answered 1002`, (ws) => writeRaw(ws, clientFrame(OP.close, closePayload(code))),
        [closed(1002)]]),
    ['reason not UTF-8', (ws) => writeRaw(ws, clientFrame(OP.close,
      Buffer.concat([closePayload(1000), Buffer.from([0xff])]))), [closed(1007)]],
    ['reason over 123 bytes', (ws) => writeRaw(ws, clientFrame(OP.close, closePayload(1000, a(124)))), [closed(1002)]],
  ],
  '9 limits': [
    ['text at max_message_size', (ws) => ws.send(a(LIMIT)), [text(a(LIMIT)), closed(1000)]],
    ['binary at max_message_size', (ws) => ws.send(bytes(LIMIT)), [binary(bytes(LIMIT)), closed(1000)]],
    ['text over max_message_size', (ws) => ws.send(a(LIMIT + 1)), [closed(1009)]],
    ['binary over max_message_size', (ws) => ws.send(bytes(LIMIT + 1)), [closed(1009)]],
    ['at the limit across fragments', (ws) => fragments(ws, [a(LIMIT - 1), 'b']), [text(a(LIMIT - 1) + 'b'), closed(1000)]],
    ['over the limit across fragments', (ws) => fragments(ws, [a(LIMIT), 'b']), [closed(1009)]],
    [`${MAX_FRAGMENTS} fragments`, (ws) => fragments(ws, Array(MAX_FRAGMENTS).fill('x')),
      [text('x'.repeat(MAX_FRAGMENTS)), closed(1000)]],
    [`${MAX_FRAGMENTS + 1} fragments`, (ws) => fragments(ws, Array(MAX_FRAGMENTS + 1).fill('x')), [closed(1008)]],
  ],
};

// permessage-deflate (Autobahn 12 and 13 in spirit: the suite itself does
// not install here): `ws` offers the extension as browsers do, compresses
// what it sends, and the echo route answers compressed. The server
// negotiates no context takeover either way, so each message stands alone.
const deflated = (s) => zlib.deflateRawSync(Buffer.from(s), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4);
const json2k = JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ host: `web-${i}`, cpu: i % 7, status: 'ok' })));
const deflateCases = [
  ...[1, 125, 126, 1000, LIMIT].map((n) => [`compressed text of ${n} bytes`, (ws) => ws.send(a(n), { compress: true }),
    [ztext(a(n)), closed(1000)]]),
  ...[1, 300, LIMIT].map((n) => [`compressed binary of ${n} bytes`, (ws) => ws.send(bytes(n), { compress: true }),
    [zbinary(bytes(n)), closed(1000)]]),
  ['compressed 2 KB JSON', (ws) => ws.send(json2k, { compress: true }), [ztext(json2k), closed(1000)]],
  ['uncompressed text answered compressed', (ws) => ws.send('plain', { compress: false }), [ztext('plain'), closed(1000)]],
  ['three equal messages (no context carried between them)', (ws) => {
    for (let i = 0; i < 3; i++) ws.send(json2k, { compress: true });
  }, [ztext(json2k), ztext(json2k), ztext(json2k), closed(1000)]],
  ['fragmented compressed text', (ws) => fragments(ws, ['Hello, ', 'κόσμε ', 'world'], { compress: true }),
    [ztext('Hello, κόσμε world'), closed(1000)]],
  ['fragmented compressed binary with a ping between', (ws) => {
    ws.send(bytes(500), { fin: false, compress: true });
    ws.ping('p');
    ws.send(bytes(500), { fin: true, compress: true });
  }, [pong('p'), zbinary(bytes(1000)), closed(1000)]],
  ['inflates past max_message_size', (ws) => ws.send(a(LIMIT + 1), { compress: true }), [closed(1009)]],
  ['deflate bomb: 64 MiB of zeros in a small frame', (ws) => writeRaw(ws,
    clientFrame(OP.binary, deflated(Buffer.alloc(64 << 20)), { rsv: 4 })), [closed(1009)]],
  ['RSV1 on a ping', (ws) => writeRaw(ws, clientFrame(OP.ping, 'x', { rsv: 4 })), [closed(1002)]],
  ['RSV1 on a close', (ws) => writeRaw(ws, clientFrame(OP.close, closePayload(1000), { rsv: 4 })), [closed(1002)]],
  ['RSV1 on a continuation', (ws) => writeRaw(ws, clientFrame(OP.text, deflated('ab'), { fin: false, rsv: 4 }),
    clientFrame(OP.cont, Buffer.from([0]), { rsv: 4 })), [closed(1002)]],
  ['not deflate data', (ws) => writeRaw(ws, clientFrame(OP.text, Buffer.from([0xff, 0xff, 0xff]), { rsv: 4 })),
    [closed(1007)]],
  ['inflated text not UTF-8', (ws) => writeRaw(ws, clientFrame(OP.text, deflated(Buffer.from([0xce, 0xff])), { rsv: 4 })),
    [closed(1007)]],
];

// What browsers and `ws` offer, and what the daemon answers.
const NO_TAKEOVER = 'permessage-deflate;server_no_context_takeover;client_no_context_takeover';
const extensionCases = [
  ['Chromium: client_max_window_bits', 'permessage-deflate; client_max_window_bits', NO_TAKEOVER],
  ['Firefox: no parameters', 'permessage-deflate', NO_TAKEOVER],
  ['client asks for no context takeover itself', 'permessage-deflate; client_no_context_takeover', NO_TAKEOVER],
  ['a smaller server window is declined', 'permessage-deflate; server_max_window_bits=10', undefined],
  ['the next offer is taken', 'permessage-deflate; server_max_window_bits=10, permessage-deflate', NO_TAKEOVER],
  ['an unknown parameter is declined', 'permessage-deflate; x=1', undefined],
];

// The fuzzing configuration SECURITY.md documents, as environment
// variables: the whole Autobahn|Testsuite fuzzing client must pass with it.
const FUZZ_ENV = {
  FANOUTD_CONFORMANCE_ENABLED: 'true',
  FANOUTD_CONFORMANCE_ECHO_PATH: '/echo',
  FANOUTD_HEARTBEAT_INTERVAL: '10m',
  FANOUTD_LIMITS_MAX_MESSAGE_SIZE: '16777216',
  FANOUTD_LIMITS_MAX_FRAGMENTS: '1048576',
  FANOUTD_LIMITS_WRITE_QUEUE_BYTES: '67108864',
  FANOUTD_LIMITS_MESSAGE_TIMEOUT: '60s',
};

// Autobahn 9.3.1 and 9.4.1: a 4 MiB message in 64-byte fragments, sent as
// 65,536 frames of 64 bytes and an empty final one: 65,537 frames.
const MIB4 = 4 << 20;
const sixtyFourByteFragments = (ws, chunk) => {
  for (let i = 0; i < MIB4 / 64; i++) ws.send(chunk, { fin: false });
  ws.send(typeof chunk === 'string' ? '' : Buffer.alloc(0), { fin: true });
};
const fuzzCases = [
  ['9.3.1: 4 MiB text as 65,537 frames', (ws) => sixtyFourByteFragments(ws, a(64)), [text(a(MIB4)), closed(1000)]],
  ['9.4.1: 4 MiB binary as 65,537 frames', (ws) => sixtyFourByteFragments(ws, bytes(64)),
    [binary(bytes(MIB4)), closed(1000)]],
];

// Handshakes refused with 400 (raw requests: no client library sends these).
const KEY = () => randomBytes(16).toString('base64');
const handshakeCases = [
  ['a valid key is upgraded (control)', {}, 101],
  ['24-character key that is not base64', { 'Sec-WebSocket-Key': '!'.repeat(24) }, 400],
  ['24-character key that is base64 of 18 bytes', { 'Sec-WebSocket-Key': 'A'.repeat(24) }, 400],
  ['two Sec-WebSocket-Key headers', { 'Sec-WebSocket-Key': [KEY(), KEY()] }, 400],
  ['two Origin headers', { Origin: ['http://a.example', 'http://b.example'] }, 400],
  ['two Authorization headers', { Authorization: ['Bearer a', 'Bearer b'] }, 400],
  ['two Sec-WebSocket-Protocol headers', { 'Sec-WebSocket-Protocol': ['fanout.v1', 'bearer.x'] }, 400],
];

let bin;
let echo; // daemon with the echo route on
let fuzz; // daemon with SECURITY.md's fuzzing configuration
const daemons = [];

before(async () => {
  bin = await buildDaemon();
  echo = await startDaemon(bin, { secret: SECRET, env: ECHO_ENV });
  daemons.push(echo);
  fuzz = await startDaemon(bin, { secret: SECRET, env: FUZZ_ENV });
  daemons.push(fuzz);
}, { timeout: 55_000 });

after(async () => {
  await Promise.all(daemons.map(stopDaemon));
  removeTempDirs();
});

const echoUrl = () => `ws://127.0.0.1:${echo.port}/echo`;

for (const [family, rows] of Object.entries(cases)) {
  describe(family, () => {
    for (const [name, act, want] of rows) {
      test(name, async () => {
        assert.deepStrictEqual(await runCase(echoUrl(), act, want), want);
      });
    }
  });
}

describe('12-13 permessage-deflate', () => {
  for (const [name, act, want] of deflateCases) {
    test(name, async () => {
      const got = await runCase(echoUrl(), act, want, { deflate: true });
      assert.deepStrictEqual(got.map((e) => JSON.stringify(e).slice(0, 200)), want.map((e) => JSON.stringify(e).slice(0, 200)));
      assert.deepStrictEqual(got, want);
    });
  }
  for (const [name, offer, answer] of extensionCases) {
    test(`negotiation: ${name}`, async () => {
      const res = await rawUpgrade(echo.port, { path: '/echo', headers: { 'Sec-WebSocket-Extensions': offer } });
      assert.equal(res.statusCode, 101);
      assert.equal(res.headers['sec-websocket-extensions'], answer);
    });
  }
});

describe('9 limits under the documented fuzzing configuration', () => {
  for (const [name, act, want] of fuzzCases) {
    test(name, { timeout: 60_000 }, async () => {
      const got = await runCase(`ws://127.0.0.1:${fuzz.port}/echo`, act, want);
      // Compare lengths first: a 4 MiB mismatch printed whole helps nobody.
      assert.deepStrictEqual(got.map((e) => JSON.stringify(e).length), want.map((e) => JSON.stringify(e).length));
      assert.deepStrictEqual(got, want);
    });
  }
});

describe('handshake: Sec-WebSocket-Key and repeated headers', () => {
  for (const [name, headers, status] of handshakeCases) {
    test(name, async () => {
      const res = await rawUpgrade(echo.port, { path: '/echo', headers });
      assert.equal(res.statusCode, status);
    });
  }
});

test('the daemon warns at startup that the echo route is on', () => {
  const warn = echo.output().split('\n').find((l) => l.includes('conformance echo route'));
  assert.ok(warn, `no warning in the log:\n${echo.output()}`);
  assert.equal(JSON.parse(warn).level, 'warn');
  assert.equal(JSON.parse(warn).echo_path, '/echo');
});

test('without the conformance keys the echo path is 404', async () => {
  const plain = await startDaemon(bin, { secret: SECRET });
  daemons.push(plain);
  const res = await rawUpgrade(plain.port, { path: '/echo' });
  assert.equal(res.statusCode, 404);
});

test('an echo_path without conformance.enabled refuses to start', async () => {
  await assert.rejects(
    startDaemon(bin, { secret: SECRET, env: { FANOUTD_CONFORMANCE_ECHO_PATH: '/echo' } }),
    /exited before it was ready[\s\S]*conformance\.echo_path: .*set conformance\.enabled: true/,
  );
});
