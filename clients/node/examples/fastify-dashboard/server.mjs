// Starts the dashboard backend:
//   FANOUTD_SOCKET=/run/fanoutd/fanoutd.sock FANOUTD_SECRET=… node server.mjs
// (or FANOUTD_URL=http://127.0.0.1:8080 FANOUTD_API_KEY=… for the TCP API).

import { readFileSync } from 'node:fs';
import { buildApp, publisherFromEnv } from './app.mjs';

const secret = process.env.FANOUTD_SECRET
  ?? readFileSync(process.env.FANOUTD_SECRET_FILE ?? '/etc/fanoutd/hmac_secret', 'utf8').trim();
const app = buildApp({ publisher: publisherFromEnv(), tokenSecret: secret, logger: true });
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 3000) });
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => app.close().then(() => process.exit(0)));
