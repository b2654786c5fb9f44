// The example boots against a real fanoutd: a PATCH through Fastify reaches
// a browser-like subscriber with the token the backend minted.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Publisher } from '@fanoutd/publish';
import { buildApp } from './app.mjs';
import {
  buildDaemon, closeClient, nextMessage, ofType, openClient, removeTempDirs, send, startDaemon, stopDaemon,
} from '../../../../test/node/helpers.mjs';

const SECRET = 'fastify-example-secret-0123456789abcdef';
let d;
let app;

before(async () => {
  d = await startDaemon(await buildDaemon(), { secret: SECRET });
  app = buildApp({ publisher: new Publisher({ socketPath: d.socketPath }), tokenSecret: SECRET });
  await app.ready();
});

after(async () => {
  await app?.close();
  await stopDaemon(d);
  removeTempDirs();
});

test('a story status change is published to project:<id> with the ADR-004 shape', async () => {
  const { token } = (await app.inject({ url: '/api/token?user=carol' })).json();
  const ws = await openClient(d.wsUrl, ['fanout.v1', `bearer.${token}`]);
  try {
    await nextMessage(ws, ofType('welcome'));
    send(ws, { action: 'subscribe', projectId: 'abc-123', id: '1' });
    await nextMessage(ws, ofType('subscribed'));
    const res = await app.inject({ method: 'PATCH', url: '/api/projects/abc-123/stories/6-5', payload: { status: 'done' } });
    assert.equal(res.statusCode, 200, res.body);
    const m = await nextMessage(ws, ofType('story.status.changed'));
    assert.equal(m.projectId, 'abc-123');
    assert.deepEqual(m.payload, { storyId: '6-5', status: 'done' });
    assert.equal(m.offset, res.json().position.offset);
  } finally {
    await closeClient(ws);
  }
});
