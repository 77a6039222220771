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
// Last, the price per call: serial round trips over a unix socket (client and server in one
// process, bundled) without tracing and with the interceptor + a batch processor whose exporter
// discards (span creation, attributes, context, batching; not the gRPC export itself).
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
  results.perCall = await perCallCost();
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

/** Source of the per-call peer (a function: declarations are hoisted above the top-level await). */
function callPeerSource() {
  return `
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TtrpcClient, TtrpcServer, toStatus } from './src/ttrpc';
import { startTracing } from './src/telemetry/tracing';

const CALLS = Number(process.env.CALLS ?? 5000);
const traced = process.argv[2] === 'on';
const server = new TtrpcServer();
if (traced) {
  const discard = { export: (_spans: unknown, done: (r: { code: number }) => void) => done({ code: 0 }), shutdown: async () => {} };
  startTracing({ server, mica: {} as never, serviceName: 'bench', logger: { info() {}, warn() {} }, exporter: discard as never, statusOf: toStatus });
}
const reply = new Uint8Array(8);
server.register('containerd.task.v2.Task', { State: async () => reply });
const sock = path.join(mkdtempSync(path.join(tmpdir(), 'otel-call-')), 's');
await server.listen(sock);
const client = await TtrpcClient.connect(sock);
const payload = new Uint8Array([0x0a, 4, 0x61, 0x62, 0x63, 0x64]);
const md = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
for (let i = 0; i < 1000; i++) await client.call('containerd.task.v2.Task', 'State', payload, { metadata: md });
const t0 = process.hrtime.bigint();
for (let i = 0; i < CALLS; i++) await client.call('containerd.task.v2.Task', 'State', payload, { metadata: md });
const us = Number(process.hrtime.bigint() - t0) / 1e3 / CALLS;
client.close();
await server.close(100);
process.stdout.write(JSON.stringify({ us }));
process.exit(0);
`;
}

/** Mean µs per serial call, tracing off vs on (median of 3 processes each). */
async function perCallCost() {
  const peer = path.join(dir, 'call-peer.mjs');
  await build({
    stdin: { contents: callPeerSource(), loader: 'ts', resolveDir: repoRoot, sourcefile: 'call-peer.ts' },
    outfile: peer,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  const out = {};
  for (const mode of ['off', 'on']) {
    const runs = [0, 1, 2].map(() => JSON.parse(execFileSync(process.execPath, [peer, mode], { encoding: 'utf8', timeout: 60_000 })).us);
    out[`tracing${mode === 'on' ? 'On' : 'Off'}Us`] = round(median(runs));
  }
  out.overheadUs = round(out.tracingOnUs - out.tracingOffUs);
  return out;
}

function writeProbe(name, text) {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}
