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
 *              (invalidated on a gap, and once when the subscription is
 *              first confirmed);
 *   on:        optional { [eventType]: (event) => queryKey[] }: the keys an
 *              event invalidates. Without it, every event invalidates
 *              queryKeys; an event type not listed invalidates nothing;
 *   since:     optional position the application's state is at (its state
 *              endpoint gave it): the subscription resumes from there.
 * The first confirmation invalidates queryKeys because the application's
 * state was fetched before it: an event published in between reached
 * nobody. With since, a confirmation with recovered:true (the events after
 * since follow) needs no refetch.
 * Returns a function that ends the binding (and the subscription).
 */
export function bindQueries(client, queryClient, { channel, queryKeys = [], on, since }) {
  const invalidate = (keys) => {
    for (const queryKey of keys) queryClient.invalidateQueries({ queryKey });
  };
  let first = true;
  const offMissed = client.on('missed', (m) => { if (!m.channel || m.channel === channel) invalidate(queryKeys); });
  const unsubscribe = client.subscribe(channel, (event) => {
    if (!on) return invalidate(queryKeys);
    const keysOf = on[event.type];
    if (keysOf) invalidate(keysOf(event));
  }, {
    since,
    onSubscribed: (info) => {
      if (first ? !(since && info.recovered === true) : info.recovered === false) invalidate(queryKeys);
      first = false;
    },
  });
  return () => { offMissed(); unsubscribe(); };
}
