// Prints the client's size as a browser gets it: every module bundled,
// minified by esbuild, then gzipped. `npm run size`.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

const here = decodeURIComponent(new URL('.', import.meta.url).pathname);
const out = await build({
  entryPoints: [`${here}index.js`],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  write: false,
});
const code = out.outputFiles[0].contents;
const gz = gzipSync(code, { level: 9 });
console.log(`@fanoutd/client: ${code.length} bytes minified, ${gz.length} bytes minified+gzipped`);
