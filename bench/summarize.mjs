// Summarizes bench/results/*.json (one fanout-bench --json report per run):
// for each scenario and server, the median of each figure with its min–max,
// then the fanoutd / nodehub ratios, and fanoutd / X for any other server
// that ran (centrifugo, when compare.sh had CENTRIFUGO). Runs made with
// fanout-bench --subscribe-in-url (compare.sh SUBSCRIBE_IN_URL=1: channels in
// the upgrade URL, no subscribe command) get their own table, titled
// "(subscribe in URL)", never mixed with runs that subscribed by command.
// Usage: node bench/summarize.mjs DIR
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'bench/results';
const runs = {};
for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const [server, ...rest] = f.replace(/\.json$/, '').split('-');
  const scenario = rest.slice(0, -1).join('-');
  const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const title = r.subscribe_in_url ? `${scenario} (subscribe in URL)` : scenario;
  ((runs[title] ??= {})[server] ??= []).push(r);
}

const figures = {
  'deliveries/s': (r) => r.delivery_rate,
  lost: (r) => r.lost,
  'p50 ms': (r) => r.latency_ms?.p50,
  'p99 ms': (r) => r.latency_ms?.p99,
  'CPU s / 1M deliveries': (r) => r.daemon?.cpu_seconds_per_1m_deliveries,
  'RSS / conn KiB': (r) => r.daemon?.rss_per_conn_bytes / 1024,
  'RSS / conn KiB (end of run)': (r) => r.daemon?.rss_per_conn_end_bytes / 1024,
  'conns/s': (r) => r.connect_rate,
  threads: (r) => r.daemon?.threads,
  // bench/pubbench reports (the publish and publish-stream scenarios)
  'publishes/s': (r) => r.events_per_second,
  'daemon CPU µs / publish': (r) => r.daemon_cpu_us_per_event,
  'CPU µs / new conn (outside)': (r) => r.outside?.connect_cpu_us_per_conn,
  'RSS / conn KiB (outside)': (r) => r.outside?.rss_per_conn_bytes / 1024,
  'idle CPU % of a core (outside)': (r) => r.outside?.idle_cpu_percent,
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x) => (x === undefined || Number.isNaN(x) ? '–' : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2));

for (const [scenario, servers] of Object.entries(runs)) {
  console.log(`\n### ${scenario}\n`);
  const order = ['fanoutd', 'nodehub', 'centrifugo'];
  const rank = (n) => (order.includes(n) ? order.indexOf(n) : order.length);
  const names = Object.keys(servers).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  // The nodehub ratio is always shown, as before; other peers when present.
  const peers = ['nodehub', ...names.filter((n) => n !== 'fanoutd' && n !== 'nodehub')];
  console.log(`| figure | ${names.join(' | ')} | ${peers.map((p) => `fanoutd ÷ ${p}`).join(' | ')} |`);
  console.log(`|---|${names.map(() => '---').join('|')}|${peers.map(() => '---').join('|')}|`);
  for (const [name, get] of Object.entries(figures)) {
    const meds = {};
    if (names.every((n) => !servers[n].some((r) => Number.isFinite(get(r))))) continue; // not this scenario's figure
    const cells = names.map((n) => {
      const xs = servers[n].map(get).filter((x) => typeof x === 'number' && Number.isFinite(x));
      if (!xs.length) return '–';
      meds[n] = median(xs);
      return `${fmt(meds[n])} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}, n=${xs.length})`;
    });
    const ratios = peers.map((p) => (meds.fanoutd !== undefined && meds[p] ? fmt(meds.fanoutd / meds[p]) : '–'));
    console.log(`| ${name} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
}
