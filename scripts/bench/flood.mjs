#!/usr/bin/env node
// `npm run bench:flood`: daemon memory while a firmware floods its console for a minute through
// binary:// and file:// (scripts/bench/console-flood-bench.ts). Builds dist/ first (the shim is
// measured as shipped); prints a table; writes bench-results/console-flood.json (git-ignored).
// BENCH_FLOOD_SECONDS changes the duration (default 60).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from './bundle.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const resultsDir = path.join(repoRoot, 'bench-results');
// Three levels below the repository, like all.mjs: the bundled harness finds dist/ and the
// firmware fixtures as `__dirname/../../..`.
const bundleDir = path.join(resultsDir, '.build', 'console-flood');
if (!existsSync(path.join(repoRoot, 'test/fixtures/firmware/build/flood-forever.elf'))) {
  throw new Error('test/fixtures/firmware/build/flood-forever.elf is missing: run `npm run build:firmware`');
}
mkdirSync(bundleDir, { recursive: true });
const node = (args) => {
  const r = spawnSync(process.execPath, args, { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
node(['scripts/build.mjs']);
const bundle = path.join(bundleDir, 'console-flood-bench.js');
await bundleForNode(path.join(repoRoot, 'scripts/bench/console-flood-bench.ts'), bundle);
node([bundle, path.join(resultsDir, 'console-flood.json')]);
