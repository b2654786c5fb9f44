// The CommonJS side: require() resolves the package's require condition and its .d.cts types.
import fanout = require('@fanoutd/client');

const c = new fanout.FanoutClient({ url: 'ws://x/ws', getToken: () => null, shared: false });
c.on('missed', (m) => { void m.channel; });
export const loggedOut = fanout.LOGGED_OUT;
