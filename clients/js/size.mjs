// Prints the client's size as a browser gets it: bundled, minified by
// esbuild, gzipped. The core is what every page loads (index.js and what it
// imports statically); the elected-tab hub is a chunk loaded only where a
// SharedWorker cannot be used; worker.js runs in the SharedWorker. Exits 1
// when the core is over LIMIT bytes (`make js-size`).
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

const LIMIT = 5 * 1024;
const here = decodeURIComponent(new URL('.', import.meta.url).pathname);

/** Minified and gzipped bytes of entry with its static imports, and of the chunks it loads lazily. */
async function measure(entry, splitting = true) {
  const out = await build({
    entryPoints: [`${here}${entry}`], bundle: true, minify: true, format: 'esm', target: 'es2020', write: false,
    splitting, outdir: '/out', external: ['react'], metafile: true, logLevel: 'error',
  });
  const base = (p) => p.split('/').pop();
  const files = new Map(out.outputFiles.map((f) => [base(f.path), f.contents]));
  const meta = Object.fromEntries(Object.entries(out.metafile.outputs).map(([p, m]) => [base(p), m]));
  const size = (paths) => {
    const all = Buffer.concat(paths.map((p) => files.get(p)));
    return { min: all.length, gz: gzipSync(all, { level: 9 }).length };
  };
  const start = Object.keys(meta).find((p) => meta[p].entryPoint);
  const eager = new Set([start]);
  for (const p of eager) for (const i of meta[p].imports) if (i.kind === 'import-statement' && !i.external) eager.add(base(i.path));
  const lazy = Object.keys(meta).filter((p) => !eager.has(p) && p.endsWith('.js'));
  return { eager: size([...eager]), lazy: lazy.length ? size(lazy) : null };
}

const core = await measure('index.js');
const worker = await measure('worker-src.js', false);
const react = await measure('react.js', false);
const line = (name, { min, gz }) => console.log(`@fanoutd/client ${name}: ${min} bytes minified, ${gz} bytes minified+gzipped`);
line('core (every page)', core.eager);
if (core.lazy) line('lazy chunks (the elected-tab hub, the SSE fallback: loaded only when used)', core.lazy);
line('worker.js (the SharedWorker)', worker.eager);
line('react (the subpath, without React)', react.eager);
if (core.eager.gz > LIMIT) {
  console.error(`the core is ${core.eager.gz} bytes minified+gzipped, over the ${LIMIT} allowed`);
  process.exit(1);
}
