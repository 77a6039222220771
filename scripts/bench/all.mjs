#!/usr/bin/env node
// `npm run bench`: every micrun benchmark in one run, a table on stdout, everything in
// bench-results/bench.json (git-ignored). Not part of `npm test`: it takes minutes and its
// figures depend on the machine. Steps:
//   1. build dist/ (the shim is measured as shipped: the esbuild bundle)
//   2. scripts/bench/ttrpc.mjs — ttrpc latency and throughput (its own JSON, merged here)
//   3. scripts/bench/shim-bench.ts, bundled — start one-shot, ctr run -d / --rm and ctr task ps
//      next to runc, daemon RSS with 1/10/50 containers, N create+delete cycles
// Sizes: BENCH_START_RUNS, BENCH_CTR_RUNS, BENCH_PS_CALLS, BENCH_CYCLES; BENCH_ONLY=start,rss,…
// picks sections of step 3; BENCH_SKIP_TTRPC=1 skips step 2. Targets are from issues 5 and 9
// (issue 9's are the ratio rows: micrun next to runc measured in the same run).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from './bundle.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const resultsDir = path.join(repoRoot, 'bench-results');
// Three levels below the repository: the bundled test harness finds dist/ and the firmware
// fixtures as `__dirname/../../..`, exactly as it does from test/e2e/harness.
const bundleDir = path.join(resultsDir, '.build', 'shim-bench');

const TARGETS = {
  startMs: 120,
  runDetachedRatio: 1.5,
  runRmRatio: 2.0,
  memoryRatio: 1.0,
  taskPsRatio: 1.2,
  rssPerContainerKiB: 1024,
  cycleGrowthKiB: 5 * 1024,
};

function runNode(args, { capture = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`node ${args.join(' ')} exited with ${code}`))));
  });
}

const t0 = Date.now();
mkdirSync(bundleDir, { recursive: true });
for (const need of ['native/build/Release/libmica.node', 'test/fixtures/firmware/build/echo.elf', 'test/fixtures/firmware/build/exit-0.elf']) {
  if (!existsSync(path.join(repoRoot, need))) throw new Error(`${need} is missing: run \`npm run prepare\` and \`npm run build:firmware\``);
}
await runNode(['scripts/build.mjs']);

const result = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, targets: TARGETS };

if (!process.env.BENCH_SKIP_TTRPC) {
  console.log('== ttrpc (scripts/bench/ttrpc.mjs)');
  try {
    await runNode(['scripts/bench/ttrpc.mjs']);
    result.ttrpc = JSON.parse(readFileSync(path.join(resultsDir, 'ttrpc.json'), 'utf8'));
  } catch (err) {
    result.ttrpc = { error: err.message };
  }
}

console.log('== shim (scripts/bench/shim-bench.ts)');
const bundle = path.join(bundleDir, 'shim-bench.js');
await bundleForNode(path.join(repoRoot, 'scripts/bench/shim-bench.ts'), bundle);
const shimJson = path.join(bundleDir, 'shim.json');
try {
  await runNode([bundle, shimJson]);
} catch (err) {
  console.error(`shim benchmarks failed: ${err.message} (see the lines above); nothing written`);
  process.exit(1);
}
Object.assign(result, JSON.parse(readFileSync(shimJson, 'utf8')));
result.totalSeconds = Math.round((Date.now() - t0) / 1000);

const rows = [];
const row = (metric, value, target, met) => rows.push({ metric, value, target: target ?? '', met: met === undefined ? '' : met ? 'yes' : 'NO' });
const failed = (section) => section?.error && row(section.name ?? '?', `error: ${section.error}`);
const { ttrpc, start, ctrRunDetached: runD, ctrRunRm: runRm, taskPs, rss, cycles } = result;
if (ttrpc?.serial) {
  row('ttrpc p50 latency, 1 in flight (µs)', ttrpc.serial.p50us, '≤ 100', ttrpc.serial.p50us <= 100);
  row('ttrpc p99 latency, 1 in flight (µs)', ttrpc.serial.p99us);
  row(`ttrpc calls/s, ${ttrpc.concurrent.inFlight} in flight`, ttrpc.concurrent.callsPerSec, '≥ 20000', ttrpc.concurrent.callsPerSec >= 20_000);
} else if (ttrpc) row('ttrpc', `error: ${ttrpc.error}`);
if (start?.coldMs) {
  row('start one-shot, live daemon (ms, median)', start.liveDaemonMs.median, `≤ ${TARGETS.startMs}`, start.liveDaemonMs.median <= TARGETS.startMs);
  row('start one-shot, cold: spawns daemon (ms, median)', start.coldMs.median, `≤ ${TARGETS.startMs}`, start.coldMs.median <= TARGETS.startMs);
  if (start.liveLauncherMs) row('start, live daemon, native launcher (ms, median)', start.liveLauncherMs.median);
  row('node -e 0 on this machine (ms, median)', start.nodeBaselineMs.median);
} else failed(start && { ...start, name: 'start' });
if (result.phases?.startOneShotMs) {
  const p = result.phases;
  row('fresh daemon: start one-shot / first reply / Create / Start (ms, median)', [p.startOneShotMs, p.firstReplyMs, p.createMs, p.startMs].map((x) => x.median).join(' / '));
  row('warm daemon: Create / Start (ms, median)', `${p.warmCreateMs.median} / ${p.warmStartMs.median}`);
} else if (result.phases) row('phases', `error: ${result.phases.error}`);
for (const [label, cmp, target] of [
  ['target 1: ctr run -d → RUNNING', runD, TARGETS.runDetachedRatio],
  ['target 2: ctr run --rm, exit 0', runRm, TARGETS.runRmRatio],
  ['ctr task ps', taskPs, TARGETS.taskPsRatio],
]) {
  if (!cmp) continue;
  if (cmp.error) {
    row(label, `error: ${cmp.error}`);
    continue;
  }
  row(`${label}: micrun / runc (ms, median)`, `${cmp.micrun.median} / ${cmp.runc.median}`);
  row(`${label}: ratio`, cmp.ratio, target ? `≤ ${target}` : '', target ? cmp.ratio <= target : undefined);
}
const { memory, burst, cri } = result;
if (memory?.micrun) {
  row(`target 4: shim RSS, ${memory.containers} containers by ctr: micrun / runc (MiB; processes)`, `${memory.micrun.totalMiB} (${memory.micrun.processes}) / ${memory.runc.totalMiB} (${memory.runc.processes})`);
  row(`target 4: shim RSS ratio, ${memory.containers} containers by ctr`, memory.ratio, `≤ ${TARGETS.memoryRatio}`, memory.ratio <= TARGETS.memoryRatio);
} else if (memory) row('target 4: shim RSS, containers by ctr', `error: ${memory.error}`);
if (cri?.pod) {
  row('target 3: CRI RunPodSandbox → 2 containers RUNNING: micrun / runc (ms, median)', `${cri.pod.micrun.median} / ${cri.pod.runc.median}`);
  row('target 3: CRI pod ratio', cri.pod.ratio, `≤ ${TARGETS.runDetachedRatio}`, cri.pod.ratio <= TARGETS.runDetachedRatio);
  row(`target 4: shim RSS, ${cri.memory.pods} single-container CRI pods: micrun / runc (MiB; processes)`, `${cri.memory.micrun.totalMiB} (${cri.memory.micrun.processes}) / ${cri.memory.runc.totalMiB} (${cri.memory.runc.processes})`);
  row(`target 4: shim RSS ratio, ${cri.memory.pods} CRI pods`, cri.memory.ratio, `≤ ${TARGETS.memoryRatio}`, cri.memory.ratio <= TARGETS.memoryRatio);
} else if (cri) row('target 3/4: CRI', `error: ${cri.error}`);
else row('target 3/4: CRI pods', 'not measured (BENCH_ONLY left out cri)');
if (Array.isArray(burst)) {
  for (const b of burst) {
    row(`target 5: ${b.started} × ctr run --rm at once, containerd ${b.containerd}: succeeded (wall s)`, `${b.succeeded} / ${b.started} (${(b.wallMs / 1000).toFixed(1)})${b.firstError ? ` first error: ${b.firstError}` : ''}`, 'all', b.succeeded === b.started);
  }
} else if (burst) row('target 5: burst', `error: ${burst.error}`);
if (rss?.kib) {
  row('daemon RSS with 1 / 10 / 50 containers (MiB)', [rss.kib['1'], rss.kib['10'], rss.kib['50']].map((k) => (k / 1024).toFixed(1)).join(' / '));
  row('RSS growth per extra container (KiB)', rss.perExtraContainerKiB, `≤ ${TARGETS.rssPerContainerKiB}`, rss.perExtraContainerKiB <= TARGETS.rssPerContainerKiB);
  const g = rss.afterGc;
  row('after full GC: RSS 1 / 10 / 50 (MiB)', [g['1'], g['10'], g['50']].map((m) => (m.rss / 1024).toFixed(1)).join(' / '));
  row('after full GC: live heap 1 / 10 / 50 (MiB)', [g['1'], g['10'], g['50']].map((m) => (m.heapUsed / 1024).toFixed(1)).join(' / '));
  row('live heap per extra container (KiB)', rss.heapPerExtraContainerKiB);
  row('Create+Start over ttrpc (ms, median)', rss.createStartMs.median);
} else failed(rss && { ...rss, name: 'rss' });
if (cycles?.before) {
  row(`RSS before / after ${cycles.cycles} create+delete (MiB)`, `${(cycles.before.rssKiB / 1024).toFixed(1)} / ${(cycles.after.rssKiB / 1024).toFixed(1)}`);
  row(`RSS growth after ${cycles.cycles} cycles (KiB)`, cycles.growthKiB, `≤ ${TARGETS.cycleGrowthKiB}`, cycles.growthKiB <= TARGETS.cycleGrowthKiB);
  row(`after full GC: RSS growth / live heap growth (KiB)`, `${cycles.afterGcGrowthKiB.rss} / ${cycles.afterGcGrowthKiB.heapUsed}`, `≤ ${TARGETS.cycleGrowthKiB}`, cycles.afterGcGrowthKiB.rss <= TARGETS.cycleGrowthKiB);
  row(`second half (${cycles.cycles - (cycles.cycles >> 1)} cycles), after full GC: RSS / live heap per cycle (KiB)`, `${cycles.secondHalfPerCycleKiB.rss} / ${cycles.secondHalfPerCycleKiB.heapUsed}`);
  row('open fds before / after', `${cycles.before.fds} / ${cycles.after.fds}`, 'equal', cycles.after.fds <= cycles.before.fds);
  row('create+start+kill+delete cycle (ms, median)', cycles.cycleMs.median);
} else failed(cycles && { ...cycles, name: 'cycles' });
console.table(rows);
console.log(`total ${result.totalSeconds} s`);
result.table = rows;
writeFileSync(path.join(resultsDir, 'bench.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`written ${path.relative(process.cwd(), path.join(resultsDir, 'bench.json'))}`);
