// The SharedWorker that holds the connection for every tab of an origin
// (one worker per daemon URL: the worker's name is the URL). Built into
// worker.js, a self-contained classic script (`npm run build`).

import { Hub } from './hub.js';

const ports = new Map(); // tab id -> MessagePort
const hub = new Hub((ids, m) => { for (const id of ids) ports.get(id)?.postMessage(m); }, self.navigator.locks, (id) => {
  ports.get(id)?.close();
  ports.delete(id);
});

self.onconnect = (e) => {
  const port = e.ports[0];
  port.onmessage = ({ data: m }) => {
    if (m.t === 'hello') ports.set(m.from, port);
    hub.msg(m);
  };
};
