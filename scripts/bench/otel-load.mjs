#!/usr/bin/env node
// `node scripts/bench/otel-load.mjs`: what tracing costs the shim daemon at start-up.
// src/telemetry/index.ts is bundled as the shim is (esbuild, CJS, packages inlined) and, for
// comparison, with packages left in node_modules (plain require). Fresh node processes (RUNS
// each, median) measure:
//   offMs     require index.ts + tracingEnabled() — the daemon's cost with tracing off
//   enableMs  enableTracing(): import('./tracing') evaluating OpenTelemetry + exporter set-up
//   offRssMiB / onRssMiB  resident memory after each
//   otelModules  @opentelemetry files evaluated (external variant; must be 0 with tracing off)
// plus the same for @opentelemetry/sdk-node when it is installed (it is not a dependency).
// Then the whole shim bundle: wall time of `containerd-shim-mica-v2 -v` (node start + parsing the
// bundle; the `start` one-shot pays the same) built as scripts/build.mjs does — tracing inlined,
// evaluated lazily but parsed on every run — and with tracing split into its own file that only
// import('./tracing') reads.
// Writes bench-results/otel-load.json.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUNS = Number(process.env.RUNS ?? 9);
const dir = mkdtempSync(path.join(tmpdir(), 'micrun-bench-otel-'));

const probe = `
const { performance } = require('node:perf_hooks');
const otel = () => Object.keys(require.cache).filter((k) => k.includes('@opentelemetry')).length;
const rssMiB = () => process.memoryUsage().rss / 1048576;
const t0 = performance.now();
const t = require(process.argv[2]);
const enabled = t.tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, { telemetry: { otlp_endpoint: '' } });
const t1 = performance.now();
const r = { offMs: t1 - t0, offRssMiB: rssMiB(), otelModulesOff: otel(), enabled };
const mica = { exists: () => false };
t.enableTracing({ server: { use() {} }, mica, serviceName: 'bench', logger: { info() {}, warn() {} }, endpoint: 'http://127.0.0.1:9' })
  .then(async (tracing) => {
    r.enableMs = performance.now() - t1;
    r.onRssMiB = rssMiB();
    r.otelModulesOn = otel();
    await tracing.shutdown();
    process.stdout.write(JSON.stringify(r));
  });
`;

const sdkNodeProbe = `
const { performance } = require('node:perf_hooks');
const t0 = performance.now();
require('@opentelemetry/sdk-node');
process.stdout.write(JSON.stringify({ requireMs: performance.now() - t0 }));
`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const round = (x) => Math.round(x * 10) / 10;

function runMany(script, args, env = {}) {
  const rows = [];
  for (let i = 0; i < RUNS; i++) {
    const out = execFileSync(process.execPath, [script, ...args], {
      env: { ...process.env, NODE_PATH: path.join(repoRoot, 'node_modules'), ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    rows.push(JSON.parse(out));
  }
  const keys = Object.keys(rows[0]).filter((k) => typeof rows[0][k] === 'number');
  return Object.fromEntries(keys.map((k) => [k, round(median(rows.map((r) => r[k])))]));
}

try {
  const variants = { bundled: [], external: ['packages-external'] };
  const results = { runs: RUNS, node: process.version };
  for (const [name, flags] of Object.entries(variants)) {
    const outfile = path.join(dir, `telemetry-${name}.cjs`);
    await build({
      entryPoints: [path.join(repoRoot, 'src/telemetry/index.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      ...(flags.includes('packages-external') ? { packages: 'external' } : {}),
      logLevel: 'warning',
    });
    results[name] = runMany(writeProbe('probe.cjs', probe), [outfile]);
  }
  results.shimBundle = await shimBundleCost();
  const sdkNode = path.join(repoRoot, 'node_modules/@opentelemetry/sdk-node');
  results.sdkNode = existsSync(sdkNode) ? runMany(writeProbe('sdk-node.cjs', sdkNodeProbe), []) : 'not installed';

  mkdirSync(path.join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(path.join(repoRoot, 'bench-results/otel-load.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
  if (results.external.otelModulesOff !== 0) {
    console.error('FAIL: OpenTelemetry modules evaluated with tracing off');
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** `-v` wall time and size of the shim bundle with tracing inlined vs split out. */
async function shimBundleCost() {
  const splitTracing = {
    name: 'split-tracing',
    setup(b) {
      b.onResolve({ filter: /^\.\/tracing$/ }, (args) =>
        args.importer.endsWith(path.join('src', 'telemetry', 'index.ts')) ? { path: './tracing.js', external: true } : undefined,
      );
    },
  };
  const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', external: ['*.node'], logLevel: 'warning' };
  const out = {};
  for (const [name, plugins] of Object.entries({ inlined: [], split: [splitTracing] })) {
    const outDir = path.join(dir, `shim-${name}`);
    const shim = path.join(outDir, 'containerd-shim-mica-v2.js');
    await build({ ...common, entryPoints: [path.join(repoRoot, 'src/shim/main.ts')], outfile: shim, plugins });
    if (name === 'split') await build({ ...common, entryPoints: [path.join(repoRoot, 'src/telemetry/tracing.ts')], outfile: path.join(outDir, 'tracing.js') });
    const times = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = process.hrtime.bigint();
      execFileSync(process.execPath, [shim, '-v'], { encoding: 'utf8' });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    out[name] = { versionWallMs: round(median(times)), bundleKiB: Math.round(statSync(shim).size / 1024) };
  }
  return out;
}

function writeProbe(name, text) {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}
