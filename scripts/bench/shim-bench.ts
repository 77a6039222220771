// Shim benchmarks against real components, bundled and run by scripts/bench/all.mjs:
//   node shim-bench.js <result.json>
// Starts a private containerd 1.6 and micad-sim (test/e2e/harness), imports the micrun images
// (echo and exit-0 firmware) and a busybox image for runc, runs the sections of ctr-bench.ts
// and daemon-bench.ts, and writes one JSON object. A section that fails records its error and
// the others still run. Sizes come from the environment (defaults in RUNS below).
// Time budget: BENCH_TIMEOUT_MS (default 15 min) — sections that would start after it are skipped,
// and a run still going a minute past it (or a SIGINT/SIGTERM) is cleaned up and ended: shim
// daemons of this run (found by PID through their socket paths), containerd, micad-sim.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { distDir, startContainerd, type Containerd } from '../../test/e2e/harness/containerd';
import { firmwarePath, startMicadSim, type MicadSim } from '../../test/e2e/harness/micad-sim';
import { run } from '../../test/e2e/harness/processes';
import { shimDaemons } from '../../test/e2e/harness/leftovers';
import { ociArchive } from '../../test/e2e/harness/oci-archive';
import { containerdBuild } from '../../test/e2e/harness/containerd-builds';
import { benchBurst, benchRunDetached, benchRunToExit, benchShimMemory, benchTaskPs, type CtrBenchImages } from './ctr-bench';
import { benchCri, PAUSE, startCriContainerd } from './cri-bench';
import { DaemonBench } from './daemon-bench';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RUNS = {
  start: num('BENCH_START_RUNS', 21),
  ctrRun: num('BENCH_CTR_RUNS', 10),
  taskPs: num('BENCH_PS_CALLS', 30),
  phases: num('BENCH_PHASE_RUNS', 7),
  cycles: num('BENCH_CYCLES', 200),
  memoryContainers: num('BENCH_MEMORY_CONTAINERS', 10),
  burst: num('BENCH_BURST', 32),
  criPods: num('BENCH_CRI_RUNS', 5),
  criMemoryPods: num('BENCH_CRI_MEMORY_PODS', 10),
};
/** One namespace per section, each fresh: no section warms another's daemon. */
const NS = { runD: 'bench-run-d', runRm: 'bench-run-rm', memory: 'bench-memory', burst: 'bench-burst' };
const ONLY = process.env.BENCH_ONLY?.split(',');
const BUDGET_MS = num('BENCH_TIMEOUT_MS', 15 * 60_000);

const IMAGES: CtrBenchImages = {
  echo: 'docker.io/micrun-bench/echo:latest',
  exit0: 'docker.io/micrun-bench/exit-0:latest',
  busybox: 'docker.io/micrun-bench/busybox:latest',
};

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: shim-bench <result.json>');
  const work = mkdtempSync(path.join(tmpdir(), 'micrun-bench-'));
  const result: Record<string, unknown> = { runs: RUNS };
  let sim: MicadSim | undefined;
  let ctd: Containerd | undefined;
  const deadline = Date.now() + BUDGET_MS;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const dir of [work, ctd?.shimSocketDir]) if (dir) for (const pid of shimDaemons(dir)) process.kill(pid, 'SIGKILL');
      await ctd?.destroy().catch(() => {});
      await sim?.stop().catch(() => {});
      rmSync(work, { recursive: true, force: true });
    })());
  const abort = (why: string) => {
    process.stderr.write(`shim-bench: ${why}; cleaning up\n`);
    void cleanup().finally(() => process.exit(1));
  };
  process.once('SIGINT', () => abort('SIGINT'));
  process.once('SIGTERM', () => abort('SIGTERM'));
  setTimeout(() => abort(`still running 60 s past the ${BUDGET_MS} ms budget`), BUDGET_MS + 60_000).unref();
  try {
    sim = await startMicadSim();
    ctd = await startContainerd({ env: { MICRUN_MICA_SOCKET_DIR: sim.socketDir, MICRUN_STATE_DIR: path.join(work, 'state') } });
    await importImages(ctd, work, ['default', ...Object.values(NS)]);
    const daemon = new DaemonBench({
      shim: path.join(distDir, 'containerd-shim-mica-v2.js'),
      launcher: path.join(distDir, 'containerd-shim-mica-v2'),
      ctd,
      micaSocketDir: sim.socketDir,
      firmware: firmwarePath('echo'),
      work,
    });
    const c = ctd;
    const sections: [string, () => Promise<unknown>][] = [
      ['start', () => daemon.start(RUNS.start)],
      ['phases', () => daemon.phases(RUNS.phases)],
      ['ctrRunDetached', () => benchRunDetached(c, IMAGES, RUNS.ctrRun, NS.runD)],
      ['ctrRunRm', () => benchRunToExit(c, IMAGES, RUNS.ctrRun, NS.runRm)],
      ['taskPs', () => benchTaskPs(c, IMAGES, RUNS.taskPs)],
      ['memory', () => benchShimMemory(c, IMAGES, RUNS.memoryContainers, NS.memory)],
      ['cri', () => criOnItsOwnContainerd(sim!, work)],
      ['burst', () => burstOnEachContainerd(c, sim!, work)],
      ['rss', () => daemon.rss()],
      ['cycles', () => daemon.cycles(RUNS.cycles)],
    ];
    for (const [name, fn] of sections) {
      if (ONLY && !ONLY.includes(name)) continue;
      if (Date.now() > deadline) {
        result[name] = { error: `skipped: the ${BUDGET_MS} ms budget (BENCH_TIMEOUT_MS) is used up` };
        continue;
      }
      const t0 = Date.now();
      process.stderr.write(`bench: ${name}…\n`);
      try {
        result[name] = await fn();
      } catch (err) {
        result[name] = { error: (err as Error).message };
      }
      process.stderr.write(`bench: ${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  } finally {
    await cleanup();
  }
  writeFileSync(out, JSON.stringify(result, null, 2));
}

/**
 * RUNS.burst `ctr run --rm` at once on this containerd 1.6 and on containerd 2.x (a second
 * private containerd of the 2.x build, same micad-sim), one after the other.
 */
async function burstOnEachContainerd(ctd16: Containerd, sim: MicadSim, work: string) {
  const results = [await benchBurst(ctd16, IMAGES, RUNS.burst, NS.burst)];
  const ctd2 = await startContainerd({
    build: containerdBuild('2'),
    env: { MICRUN_MICA_SOCKET_DIR: sim.socketDir, MICRUN_STATE_DIR: path.join(work, 'state-2x') },
  });
  try {
    await importImages(ctd2, work, [NS.burst]);
    results.push(await benchBurst(ctd2, IMAGES, RUNS.burst, NS.burst));
  } finally {
    await ctd2.destroy();
  }
  return results;
}

/** The CRI section on a containerd of its own (CRI plugin on, the shipped runtime config). */
async function criOnItsOwnContainerd(sim: MicadSim, work: string) {
  const ctd = await startCriContainerd(work, { MICRUN_MICA_SOCKET_DIR: sim.socketDir, MICRUN_STATE_DIR: path.join(work, 'state-cri') });
  try {
    await importImages(ctd, work, ['k8s.io']);
    const pause = path.join(work, 'pause.tar');
    writeFileSync(pause, ociArchive(PAUSE, busyboxFiles(), { Cmd: ['/bin/busybox', 'sleep', '100000'] }));
    await importArchive(ctd, pause, 'k8s.io');
    return await benchCri(ctd, IMAGES, work, RUNS.criPods, RUNS.criMemoryPods);
  } finally {
    await ctd.destroy();
  }
}

function busyboxFiles() {
  const busybox = '/bin/busybox';
  if (!existsSync(busybox)) throw new Error('/bin/busybox is missing: install busybox-static');
  return [
    { name: 'bin', mode: 0o755 },
    { name: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 },
  ];
}

async function importImages(ctd: Containerd, work: string, namespaces: readonly string[]): Promise<void> {
  const micrun = path.join(distDir, 'micrun.js');
  for (const [firmware, name] of [['echo', IMAGES.echo], ['exit-0', IMAGES.exit0]] as const) {
    const archive = path.join(work, `${firmware}.tar`);
    const built = await run(process.execPath, [micrun, 'image', 'build', '--firmware', firmwarePath(firmware), '--name', name, '-o', archive]);
    if (built.code !== 0) throw new Error(`micrun image build ${firmware}: ${built.stderr}`);
    for (const ns of namespaces) await importArchive(ctd, archive, ns);
  }
  // runc's subject: a one-layer image holding only the static busybox.
  const archive = path.join(work, 'busybox.tar');
  writeFileSync(archive, ociArchive(IMAGES.busybox, busyboxFiles(), { Cmd: ['/bin/busybox', 'sh'] }));
  for (const ns of namespaces) await importArchive(ctd, archive, ns);
}

async function importArchive(ctd: Containerd, archive: string, namespace: string): Promise<void> {
  const r = await ctd.ctr(['image', 'import', archive], { namespace });
  if (r.code !== 0) throw new Error(`ctr image import ${archive}: ${r.stderr}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`shim-bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
