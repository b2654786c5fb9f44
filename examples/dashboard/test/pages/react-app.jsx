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

function Status() {
  const { client: c } = useFanout();
  const [state, setState] = useState(c.state);
  useEffect(() => c.onState((e) => setState(e.state)), [c]);
  return <p id="state" data-state={state}>{state}</p>;
}

// Mounted once the connection is open, as a page navigated to later would
// be: strict mode's second mount then reaches an open connection.
function Live() {
  const [events, setEvents] = useState([]);
  useChannel('project:react', (e) => setEvents((xs) => [...xs, e.payload.n]));
  useChannelQueries('project:react', [['stories', 'react']]);
  return <p id="events" data-count={events.length}>{events.join(',')}</p>;
}

function App() {
  const [live, setLive] = useState(false);
  window.APP.show = () => setLive(true);
  return (
    <FanoutProvider client={client} queryClient={queryClient}>
      <main>
        <Status />
        {live && <Live />}
      </main>
    </FanoutProvider>
  );
}

const root = createRoot(document.getElementById('root'));
root.render(<StrictMode><App /></StrictMode>);
window.APP.unmount = () => root.unmount();
