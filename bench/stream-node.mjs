// Events/s of @fanoutd/publish's PublishStream from one Node publisher.
//   node bench/stream-node.mjs SOCKET [EVENTS]
import { Publisher } from '../clients/node/index.js';

const [socketPath, n = '200000'] = process.argv.slice(2);
const pub = new Publisher({ socketPath });
const s = pub.stream();
const t0 = performance.now();
const acks = [];
for (let i = 0; i < Number(n); i++) {
  await s.ready(); // backpressure: the window
  acks.push(s.publish('bench:node', 'bench', { i }));
}
await s.close();
await Promise.all(acks);
const ms = performance.now() - t0;
console.log(`node stream: ${n} events in ${ms.toFixed(0)} ms = ${Math.round((Number(n) / ms) * 1000)}/s`);
pub.close();
