#!/usr/bin/env node
// `npm run bench:ttrpc`: round-trip latency (p50/p99) and calls/s over a unix socket with one
// call in flight and with 64, plus the server's RSS. Client and server are separate processes
// running bundled code (esbuild, as the binaries are built), so the figures include what a real
// shim pays: framing, the ttrpc envelope, and a Connect request/response decode + encode.
// Writes bench-results/ttrpc.json. Targets: p50 ≤ 100 µs serial, ≥ 20,000 calls/s at 64.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const options = {
  warmup: Number(process.env.WARMUP ?? 5_000),
  serialCalls: Number(process.env.CALLS ?? 20_000),
  concurrency: Number(process.env.CONCURRENCY ?? 64),
  concurrentMs: Number(process.env.DURATION_MS ?? 5_000),
};
const targets = { serialP50us: 100, concurrentCallsPerSec: 20_000 };

const dir = mkdtempSync(path.join(tmpdir(), 'micrun-bench-ttrpc-'));
const bundle = path.join(dir, 'ttrpc-peer.js');
const socketPath = path.join(dir, 'bench.sock');
let server;
try {
  await build({
    entryPoints: [path.join(repoRoot, 'scripts/bench/ttrpc-peer.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });

  server = spawn(process.execPath, [bundle, 'server', socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`bench server exited early (code ${code})`)));
    server.stdout.on('data', (d) => d.toString().includes('ready') && resolve());
  });

  const client = spawn(process.execPath, [bundle, 'client', socketPath, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  client.stdout.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => client.once('exit', resolve));
  if (code !== 0) throw new Error(`bench client failed (code ${code})`);
  const r = JSON.parse(out.trim());

  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    options,
    targets,
    ...r,
    meetsTargets: r.serial.p50us <= targets.serialP50us && r.concurrent.callsPerSec >= targets.concurrentCallsPerSec,
  };
  console.table({
    '1 in flight': { ...r.serial },
    [`${r.concurrent.inFlight} in flight`]: { calls: r.concurrent.calls, callsPerSec: r.concurrent.callsPerSec, p50us: r.concurrent.p50us, p99us: r.concurrent.p99us },
  });
  console.log(`server RSS ${r.serverRssIdleMiB} MiB idle, ${r.serverRssMiB} MiB after load; client RSS ${r.clientRssMiB} MiB; targets met: ${result.meetsTargets}`);
  mkdirSync(path.join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(path.join(repoRoot, 'bench-results/ttrpc.json'), JSON.stringify(result, null, 2) + '\n');
} finally {
  if (server && server.exitCode === null) {
    const gone = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await gone;
  }
  rmSync(dir, { recursive: true, force: true });
}
