// A strict TypeScript consumer of the published types: `tsc --strict
// --noEmit` on it (make test-publishers) fails when index.d.ts and the
// library's API drift apart.
import {
  ApiError, AuthError, InvalidEventsError, Publisher, PublishStream, TimeoutError, UnavailableError, mintToken,
  type ConnectionEvent, type Position, type Published, type PublishEvent,
} from '@fanoutd/publish';

export type StreamType = PublishStream;

async function main(): Promise<void> {
  const unix = new Publisher({ socketPath: '/run/fanoutd/fanoutd.sock', timeoutMs: 2000, retries: 2 });
  const tcp = new Publisher({ url: 'http://127.0.0.1:8080', apiKey: 'k'.repeat(16) });
  const pos: Position = await unix.publish('project:abc', 'story.status.changed', { storyId: '6-5' }, { idempotencyKey: 'x' });
  const offset: number = pos.offset;
  const dup: boolean | undefined = pos.duplicate;
  const events: PublishEvent[] = [
    { channel: 'projects', type: 'project.created' },
    { projectId: 'abc', type: 'agent.started', payload: [1, 2], idempotencyKey: 'k' },
  ];
  const r: Published = await tcp.publishBatch(events, { signal: AbortSignal.timeout(1000) });
  const n: number = r.published + r.positions.length + offset + (dup ? 1 : 0);
  const ac = new AbortController();
  for await (const e of unix.connectionEvents({ after: 3, epoch: 'e', signal: ac.signal })) {
    const ev: ConnectionEvent = e;
    if (ev.type === 'reset') console.log(ev.after);
    else console.log(ev.seq, ev.connection_id, ev.channel ?? '', ev.code ?? 0);
  }
  for (const c of await unix.channels()) console.log(c.channel, c.subscribers, c.offset, c.epoch);
  for (const c of await unix.presence('room')) console.log(c.connection_id, c.user, c.info, c.node);
  const s = unix.stream({ window: 64 });
  await s.ready();
  const streamed: Position = await s.publish('project:abc', 't', { n: 1 }, { idempotencyKey: 'k2' });
  await s.close();
  console.log(streamed.offset, s.acked);
  const stats = await unix.stats();
  console.log(stats.published + stats.connections, stats.broker_up, n);
  const token: string = mintToken('s'.repeat(32), { sub: 'alice', channels: ['project:*'], ttlSeconds: 60, info: { name: 'A' } });
  console.log(token);
  try {
    await unix.publish('c', 't');
  } catch (err) {
    if (err instanceof InvalidEventsError) for (const e of err.events) console.log(e.index, e.error);
    else if (err instanceof UnavailableError) console.log(err.status, err.retryAfterMs, err.published, err.retryable);
    else if (err instanceof AuthError || err instanceof ApiError) console.log(err.status, err.error, err.attempts);
    else if (err instanceof TimeoutError) console.log(err.attempts, err.retryable);
  }
  unix.close();
  tcp.close();
}

void main;
// @ts-expect-error: the TCP API needs apiKey
void new Publisher({ url: 'http://127.0.0.1:8080' });
// @ts-expect-error: an event needs channel or projectId
void ([{ type: 't' }] satisfies PublishEvent[]);
