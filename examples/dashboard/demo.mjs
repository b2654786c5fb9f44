// `make demo`: fanoutd, the publisher and the page server, wired together.
// Ctrl-C stops all three.
//
//   node examples/dashboard/demo.mjs [--bin bin/fanoutd] [--port 8090] [--every 1500]

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { removeTempDirs, startDaemon, stopDaemon } from '../../test/node/helpers.mjs';
import { startServer } from './server.mjs';

const { values } = parseArgs({
  options: {
    bin: { type: 'string', default: 'bin/fanoutd' },
    port: { type: 'string', default: process.env.DEMO_PORT ?? '8090' },
    every: { type: 'string', default: '1500' },
  },
});

const secret = randomBytes(32).toString('hex');
const daemon = await startDaemon(values.bin, { secret });
const page = await startServer({
  wsUrl: daemon.wsUrl, socketPath: daemon.socketPath, secret, port: Number(values.port),
  publishEveryMs: Number(values.every),
});

console.log(`
fanoutd dashboard demo

  page:       ${page.url}
  fanoutd:    ${daemon.wsUrl}  (SSE fallback: http://127.0.0.1:${daemon.port}/sse)
  publisher:  one ADR-004 event every ${values.every} ms over ${daemon.socketPath}

Open the page; stop and start things to watch it reconnect. Ctrl-C stops everything.
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await page.close();
  await stopDaemon(daemon);
  removeTempDirs();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
daemon.proc.once('exit', (code) => {
  if (!stopping) {
    console.error(`fanoutd exited (${code})\n${daemon.output()}`);
    process.exit(1);
  }
});
