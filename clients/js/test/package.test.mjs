// The package as a consumer gets it (issue 15): generated files current,
// `exports` working from import and require, the types compiling under
// `tsc --strict` without the DOM library, the tarball's contents, licence and
// links. Needs the package's devDependencies (`npm ci` in clients/js).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const pkgDir = path.resolve(decodeURIComponent(new URL('..', import.meta.url).pathname));
const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));

// A consumer project whose node_modules/@fanoutd/client is this directory.
const consumer = mkdtempSync(path.join(tmpdir(), 'fanoutd-js-consumer-'));
after(() => rmSync(consumer, { recursive: true, force: true }));
mkdirSync(path.join(consumer, 'node_modules', '@fanoutd'), { recursive: true });
symlinkSync(pkgDir, path.join(consumer, 'node_modules', '@fanoutd', 'client'));

test('the generated files (worker.js, dist/) are current', async () => {
  await run(process.execPath, [path.join(pkgDir, 'build.mjs'), '--check'], { cwd: pkgDir });
});

test('import and require both resolve, to the same API', async () => {
  writeFileSync(path.join(consumer, 'esm.mjs'), `
    import * as m from '@fanoutd/client';
    import * as r from '@fanoutd/client/react';
    console.log(JSON.stringify({ core: Object.keys(m).sort(), react: Object.keys(r).sort() }));`);
  const { stdout } = await run(process.execPath, ['esm.mjs'], { cwd: consumer });
  const esm = JSON.parse(stdout);
  const require = createRequire(path.join(consumer, 'x.cjs'));
  const cjs = require('@fanoutd/client');
  assert.deepEqual(Object.keys(cjs).sort(), esm.core);
  assert.deepEqual(esm.core, ['DEFAULT_BACKOFF', 'FanoutClient', 'LOGGED_OUT', 'TERMINAL_CODES', 'TERMINAL_STATUSES',
    'backoffBound', 'backoffDelay', 'bindQueries']);
  assert.equal(cjs.FanoutClient.LOGGED_OUT, cjs.LOGGED_OUT);
  assert.deepEqual(esm.react, ['FanoutProvider', 'useChannel', 'useChannelQueries', 'useFanout']);
  assert.deepEqual(Object.keys(require('@fanoutd/client/react')).sort(), esm.react);
  for (const cond of ['.', './react']) {
    assert.deepEqual(Object.keys(pkg.exports[cond]), ['import', 'require', 'default']);
    assert.ok(pkg.exports[cond].import.types && pkg.exports[cond].require.types, `${cond}: types per condition`);
  }
});

test('tsc --strict --noEmit on a consumer, without the DOM library, ESM and CommonJS', async () => {
  const tsc = path.join(pkgDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const src = path.join(pkgDir, 'test', 'consumer');
  for (const f of ['consumer.mts', 'consumer.cts']) writeFileSync(path.join(consumer, f), readFileSync(path.join(src, f)));
  writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, lib: ['es2020'], types: [], module: 'nodenext', moduleResolution: 'nodenext',
      target: 'es2020', skipLibCheck: false, noUnusedLocals: true,
    },
    files: ['consumer.mts', 'consumer.cts'],
  }));
  // And with the DOM library: the browser's WebSocket, fetch and window fit the options.
  writeFileSync(path.join(consumer, 'dom.mts'), readFileSync(path.join(src, 'dom.mts')));
  writeFileSync(path.join(consumer, 'tsconfig.dom.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, lib: ['es2020', 'dom'], types: [], module: 'nodenext', target: 'es2020' },
    files: ['dom.mts'],
  }));
  for (const project of ['tsconfig.json', 'tsconfig.dom.json']) {
    try {
      await run(process.execPath, [tsc, '-p', path.join(consumer, project)], { cwd: consumer });
    } catch (err) {
      assert.fail(`tsc -p ${project} failed:\n${err.stdout}${err.stderr}`);
    }
  }
});

test('npm pack --dry-run ships the modules, types, worker, licence and README only', async () => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkgDir });
  const [info] = JSON.parse(stdout);
  const files = info.files.map((f) => f.path).sort();
  for (const f of ['LICENSE', 'README.md', 'package.json', 'index.js', 'index.d.ts', 'client.js', 'tab.js', 'hub.js',
    'worker.js', 'react.js', 'react.d.ts', 'dist/index.cjs', 'dist/index.d.cts', 'dist/react.cjs', 'dist/react.d.cts']) {
    assert.ok(files.includes(f), `${f} is in the tarball: ${files}`);
  }
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/')), `no tests: ${files}`);
  assert.equal(pkg.license, 'Apache-2.0');
  assert.match(readFileSync(path.join(pkgDir, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  assert.match(pkg.repository.url, /github\.com\/fanoutd\/fanoutd/);
  assert.match(pkg.homepage, /^https:\/\/github\.com\/fanoutd\/fanoutd\//);
});

test('README links work on the npm page: absolute, into the repository', () => {
  const readme = readFileSync(path.join(pkgDir, 'README.md'), 'utf8');
  const links = [...readme.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]);
  assert.ok(links.length > 0);
  for (const l of links) {
    assert.ok(/^https:\/\//.test(l) || l.startsWith('#'), `relative link ${l} breaks on the npm page`);
  }
});
