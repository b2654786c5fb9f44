// A React app using @fanoutd/client/react, built with esbuild by
// tabs.test.mjs and run in Chromium in strict mode: the events of one
// channel are listed, and they invalidate a TanStack query (ADR-004).
import { QueryClient, QueryObserver } from '@tanstack/query-core';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { FanoutClient } from '@fanoutd/client';
import { FanoutProvider, useChannel, useChannelQueries, useFanout } from '@fanoutd/client/react';

const { ws } = window.APP;
window.APP.fetches = 0;
const queryClient = new QueryClient();
new QueryObserver(queryClient, {
  queryKey: ['stories', 'react'],
  queryFn: async () => { window.APP.fetches++; return (await fetch('/state')).json(); },
}).subscribe(() => {});
const client = new FanoutClient({
  url: ws, workerUrl: '/react/worker.js', getToken: async () => (await fetch('/token')).text(),
});

function Live() {
  const { client: c } = useFanout();
  const [state, setState] = useState(c.state);
  const [events, setEvents] = useState([]);
  useEffect(() => c.onState((e) => setState(e.state)), [c]);
  useChannel('project:react', (e) => setEvents((xs) => [...xs, e.payload.n]));
  useChannelQueries('project:react', [['stories', 'react']]);
  return (
    <main>
      <p id="state" data-state={state}>{state}</p>
      <p id="events" data-count={events.length}>{events.join(',')}</p>
    </main>
  );
}

const root = createRoot(document.getElementById('root'));
root.render(
  <StrictMode>
    <FanoutProvider client={client} queryClient={queryClient}><Live /></FanoutProvider>
  </StrictMode>,
);
window.APP.unmount = () => root.unmount();
