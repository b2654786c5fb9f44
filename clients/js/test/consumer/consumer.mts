// A TypeScript consumer of the package, checked with `tsc --strict --noEmit`
// and no DOM library (test/package.test.mjs). Each @ts-expect-error is a
// mistake the types must catch.
import {
  bindQueries, FanoutClient, LOGGED_OUT, type FanoutEvent, type MissedFrame, type Position, type StateEvent,
} from '@fanoutd/client';
import { FanoutProvider, useChannel, useChannelQueries } from '@fanoutd/client/react';

const client = new FanoutClient({
  url: 'wss://events.example.com/ws',
  getToken: async () => (Math.random() > 0.5 ? 'token' : null),
  shared: 'leader',
});
const client2 = new FanoutClient({ url: 'ws://x/ws', getToken: () => { throw LOGGED_OUT; }, shared: false });
client2.close();
if (FanoutClient.LOGGED_OUT !== LOGGED_OUT) throw new Error('one sentinel');

client.on('welcome', (f) => { const id: string = f.connection_id; const ms: number = f.ping_interval_ms; void id; void ms; });
client.on('missed', (m: MissedFrame) => { if (m.channel !== undefined) { const c: string = m.channel; void c; } else { const n: number = m.count; void n; } });
client.on('join', (f) => { const u: string = f.user; void u; });
client.on('leave', (f) => { const c: string = f.channel; void c; });
client.on('expiring', (f) => { const ms: number = f.expires_in_ms; void ms; });
client.on('close', (i) => { const code: number = i.code; void code; });
client.on('story.status.changed', (e) => { const o: number = e.offset; void o; });
client.on<'x', { n: number }>('x', (e) => { const n: number | undefined = e.payload?.n; void n; });
client.on('*', (e: FanoutEvent) => { void e.epoch; });
// @ts-expect-error welcome is a control frame, not an event
client.on('welcome', (e: FanoutEvent) => { void e; });
// @ts-expect-error join carries no offset
client.on('join', (f) => { const o: number = f.offset; void o; });
// @ts-expect-error expiring is not an event
client.on('expiring', (e: FanoutEvent) => { void e; });
// @ts-expect-error leave is not an event
client.on('leave', (e: FanoutEvent) => { void e; });

client.onState((e: StateEvent) => { if (e.state === 'offline' || e.loggedOut) void e.code; });
const since: Position | null = client.position('project:a');
const off = client.subscribe<{ status: string }>('project:a', (e) => { const s: string | undefined = e.payload?.status; void s; },
  { since: since ?? undefined, onSubscribed: (i) => void i.recovered });
off();
const unbind = bindQueries(client, { invalidateQueries: () => undefined }, {
  channel: 'project:a', queryKeys: [['a']], on: { x: (e) => [['a', e.offset]] }, since: { offset: 1, epoch: 'e' },
});
unbind();
// @ts-expect-error getToken must give a string or null
new FanoutClient({ url: 'ws://x/ws', getToken: () => 42 });

export function App() {
  useChannel('project:a', (e) => { void e.offset; });
  useChannelQueries('project:a', [['stories', 'a']], { on: { 'story.status.changed': () => [['stories', 'a']] } });
  return FanoutProvider({ client, children: null });
}
