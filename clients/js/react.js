// React bindings (`@fanoutd/client/react`): a provider holding one
// FanoutClient (and, for useChannelQueries, a TanStack QueryClient), and two
// hooks. React is a peer dependency of this subpath only; the core imports
// nothing.
//
// Strict mode mounts every effect twice (mount, unmount, mount) in
// development. Releasing a subscription or the connection is therefore
// deferred by a microtask and cancelled by the second mount, so that the
// daemon sees one subscribe and one connection, not a subscribe, an
// unsubscribe and a subscribe again.

import { createContext, createElement, useContext, useEffect, useRef } from 'react';
import { bindQueries } from './queries.js';

const Ctx = createContext(null);

/** A release that a mount within the same task cancels. */
function later(release) {
  let cancelled = false;
  queueMicrotask(() => { if (!cancelled) release(); });
  return () => { cancelled = true; };
}

/**
 * Provides client (connected while mounted) and queryClient to the hooks
 * below. props: { client, queryClient?, children }.
 */
export function FanoutProvider({ client, queryClient, children }) {
  const keep = useRef(null);
  useEffect(() => {
    const k = keep.current;
    keep.current = null;
    if (k?.client === client) k.cancel(); // strict mode's second mount: keep the connection
    else client.connect();
    return () => { keep.current = { client, cancel: later(() => client.close()) }; };
  }, [client]);
  return createElement(Ctx.Provider, { value: { client, queryClient } }, children);
}

/** The provider's { client, queryClient }. */
export function useFanout() {
  const v = useContext(Ctx);
  if (!v) throw new Error('@fanoutd/client/react: no <FanoutProvider> above this component');
  return v;
}

/**
 * Calls onEvent(event) for every event of channel while mounted. onEvent may
 * change on every render: the latest one is called, the subscription stays.
 */
export function useChannel(channel, onEvent, options) {
  const { client } = useFanout();
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const opts = useRef(options);
  opts.current = options;
  useEffect(() => {
    if (!channel) return undefined;
    const off = client.subscribe(channel, (e) => handler.current?.(e), {
      since: opts.current?.since,
      onSubscribed: (i) => opts.current?.onSubscribed?.(i),
      onError: (e) => opts.current?.onError?.(e),
    });
    return () => { later(off); };
  }, [client, channel]);
}

/**
 * ADR-004: the channel's events and gaps invalidate queryKeys in the
 * provider's QueryClient (bindQueries), while mounted. options.on maps event
 * types to the keys they invalidate; options.since resumes from a position.
 */
export function useChannelQueries(channel, queryKeys, options) {
  const { client, queryClient } = useFanout();
  if (!queryClient) throw new Error('@fanoutd/client/react: useChannelQueries needs <FanoutProvider queryClient={…}>');
  const keys = JSON.stringify(queryKeys);
  const opts = useRef(options);
  opts.current = options;
  useEffect(() => {
    if (!channel) return undefined;
    const on = opts.current?.on;
    const off = bindQueries(client, queryClient, {
      channel,
      queryKeys: JSON.parse(keys),
      since: opts.current?.since,
      on: on && Object.fromEntries(Object.keys(on).map((t) => [t, (e) => opts.current.on[t](e)])),
    });
    return () => { later(off); };
  }, [client, queryClient, channel, keys]);
}
