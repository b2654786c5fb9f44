// A consumer with the DOM library: the browser's own WebSocket, fetch and
// window fit the options.
import { FanoutClient } from '@fanoutd/client';

export const client = new FanoutClient({
  url: 'wss://events.example.com/ws',
  getToken: async () => (await fetch('/token')).text(),
  WebSocket,
  fetch,
  window,
  workerUrl: new URL('/assets/worker.js', location.href),
});
