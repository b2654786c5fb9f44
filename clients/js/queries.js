// TanStack Query glue, the ADR-004 pattern: an event invalidates the queries
// it makes stale, and a gap (recovered:false after a reconnect, or missed
// events) invalidates every query bound to the channel, because nobody can
// tell which of them the lost events touched. Takes any object with
// invalidateQueries({queryKey}) (TanStack Query v4 and v5), so the client
// does not depend on TanStack.

/**
 * Binds queries to a channel. binding:
 *   channel:   the channel to subscribe to;
 *   queryKeys: every query key the channel's events can make stale
 *              (invalidated on a gap);
 *   on:        optional { [eventType]: (event) => queryKey[] }: the keys an
 *              event invalidates. Without it, every event invalidates
 *              queryKeys; an event type not listed invalidates nothing.
 * Returns a function that ends the binding (and the subscription).
 */
export function bindQueries(client, queryClient, { channel, queryKeys = [], on }) {
  const invalidate = (keys) => {
    for (const queryKey of keys) queryClient.invalidateQueries({ queryKey });
  };
  const offMissed = client.on('missed', () => invalidate(queryKeys));
  const unsubscribe = client.subscribe(channel, (event) => {
    if (!on) return invalidate(queryKeys);
    const keysOf = on[event.type];
    if (keysOf) invalidate(keysOf(event));
  }, {
    onSubscribed: (info) => { if (info.recovered === false) invalidate(queryKeys); },
  });
  return () => { offMissed(); unsubscribe(); };
}
