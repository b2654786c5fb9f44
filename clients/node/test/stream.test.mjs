// PublishStream (POST /v1/publish/stream) against a real daemon: acks in
// order, a refused line rejected on its own while the stream goes on,
// idempotency keys, the window as backpressure.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiError, Publisher, PayloadTooLargeError } from '../index.js';
import { buildDaemon, removeTempDirs, startDaemon, stopDaemon } from '../../../test/node/helpers.mjs';

let d;
let pub;

before(async () => {
  d = await startDaemon(await buildDaemon(), {
    secret: 'stream-test-secret-0123456789abcdef',
    env: { FANOUTD_LIMITS_MAX_PUBLISH_BYTES: '4096' },
  });
  pub = new Publisher({ socketPath: d.socketPath });
});

after(async () => {
  pub?.close();
  await stopDaemon(d);
  removeTempDirs();
});

test('events are acked in order with their positions; a bad line fails alone', async () => {
  const s = pub.stream({ window: 8 });
  const acks = [];
  for (let i = 0; i < 200; i++) {
    let p;
    if (i === 50) p = s.publish('node-s', '', { i }); // missing type
    else if (i === 60) p = s.publish('node-s', 't', 'x'.repeat(5000)); // line too long
    else p = s.publish('node-s', 't', { i });
    acks.push(p.then((pos) => ({ pos }), (err) => ({ err })));
  }
  await s.close();
  const got = await Promise.all(acks);
  assert.ok(got[50].err instanceof ApiError);
  assert.equal(got[50].err.status, 400);
  assert.equal(got[50].err.index, 50);
  assert.ok(got[60].err instanceof PayloadTooLargeError);
  let last = 0;
  for (const [i, g] of got.entries()) {
    if (i === 50 || i === 60) continue;
    assert.equal(g.err, undefined, `event ${i}: ${g.err}`);
    assert.equal(g.pos.channel, 'node-s');
    assert.equal(g.pos.offset, last + 1, `event ${i} out of order`);
    last = g.pos.offset;
  }
  assert.equal(s.acked, 200);
});

test('a repeated idempotency key is acked as a duplicate of the first', async () => {
  const s = pub.stream();
  const first = s.publish('node-k', 't', 1, { idempotencyKey: 'node-k-1' });
  const second = s.publish('node-k', 't', 2, { idempotencyKey: 'node-k-1' });
  await s.close();
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.duplicate, undefined);
  assert.equal(b.duplicate, true);
  assert.equal(b.offset, a.offset);
  const again = await pub.publish('node-k', 't', 3, { idempotencyKey: 'node-k-1' });
  assert.equal(again.duplicate, true);
});

test('the window bounds the events in flight', async () => {
  const s = pub.stream({ window: 4 });
  const all = [];
  for (let i = 0; i < 40; i++) {
    await s.ready();
    all.push(s.publish('node-w', 't', i));
  }
  await s.close();
  assert.equal((await Promise.all(all)).length, 40);
});
