// What a `ctr` user waits for, micrun next to runc in the same containerd in the same run, each
// section in a namespace of its own that nothing ran in before (so any warmth — a namespace
// daemon that is already up — comes from micrun itself, never from an earlier section):
//   run -d   `ctr run -d` wall time (it returns once Start succeeded: the task is RUNNING,
//            checked after the clock stops) — micrun running the echo firmware in qemu via
//            micad-sim, runc running busybox `sleep 30`; a new container id every run, each
//            removed before the next
//   run --rm `ctr run --rm` of a task that exits 0 — micrun's exit-0 firmware, runc's busybox
//            `sh -c 'echo hi'` — from exec to exit code
//   task ps  `ctr task ps` round trip through containerd to our shim vs containerd-shim-runc-v2
//   memory   total RSS of every shim process serving N running containers started with `ctr`
//   burst    N `ctr run --rm` at once: how many succeed
// Runs alternate between the two runtimes so that load from other users of the machine hits
// both alike.
import { readdirSync, readFileSync } from 'node:fs';
import type { Containerd } from '../../test/e2e/harness/containerd';
import { processArgv } from '../../test/e2e/harness/leftovers';
import { waitFor } from '../../test/e2e/harness/processes';
import { ratio, round, sleep, summarize, timed, type Summary } from './summary';

export const MICRUN = 'io.containerd.mica.v2';

export interface CtrBenchImages {
  /** micrun: firmware that runs until killed. */
  echo: string;
  /** micrun: firmware that exits 0. */
  exit0: string;
  /** runc: busybox at /bin/busybox. */
  busybox: string;
}

export interface Comparison {
  micrun: Summary;
  runc: Summary;
  /** micrun median / runc median. */
  ratio: number;
}

interface Subject {
  runtime: 'micrun' | 'runc';
  /** Arguments between `ctr run [-d|--rm]` and the id. */
  flags: string[];
  image: string;
  /** Command after the id (runc: busybox applet), empty for firmware. */
  command: string[];
}

export async function benchRunDetached(ctd: Containerd, images: CtrBenchImages, runs: number, namespace: string): Promise<Comparison> {
  const subjects: Subject[] = [
    { runtime: 'micrun', flags: ['--runtime', MICRUN], image: images.echo, command: [] },
    { runtime: 'runc', flags: [], image: images.busybox, command: ['/bin/busybox', 'sleep', '30'] },
  ];
  const samples = { micrun: [] as number[], runc: [] as number[] };
  for (let i = 0; i < runs; i++) {
    for (const s of subjects) {
      const id = `bench-d-${s.runtime}-${i}`;
      const { ms, value: r } = await timed(() => ctd.ctr(['run', '-d', ...s.flags, s.image, id, ...s.command], { namespace }));
      if (r.code !== 0) throw new Error(`ctr run -d ${id} failed: ${r.stderr}`);
      const status = await taskStatus(ctd, id, namespace);
      if (status !== 'RUNNING') throw new Error(`${id} is ${status} after ctr run -d, not RUNNING`);
      samples[s.runtime].push(ms);
      await removeTask(ctd, id, namespace);
    }
  }
  return compare(samples);
}

export async function benchRunToExit(ctd: Containerd, images: CtrBenchImages, runs: number, namespace: string): Promise<Comparison> {
  const subjects: (Subject & { expect: string })[] = [
    { runtime: 'micrun', flags: ['--runtime', MICRUN], image: images.exit0, command: [], expect: '' },
    { runtime: 'runc', flags: [], image: images.busybox, command: ['/bin/busybox', 'sh', '-c', 'echo hi'], expect: 'hi' },
  ];
  const samples = { micrun: [] as number[], runc: [] as number[] };
  for (let i = 0; i < runs; i++) {
    for (const s of subjects) {
      const id = `bench-rm-${s.runtime}-${i}`;
      const { ms, value: r } = await timed(() => ctd.ctr(['run', '--rm', ...s.flags, s.image, id, ...s.command], { timeoutMs: 60_000, namespace }));
      if (r.code !== 0 || !r.stdout.includes(s.expect)) {
        throw new Error(`ctr run --rm ${id}: exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${r.stderr}`);
      }
      samples[s.runtime].push(ms);
    }
  }
  return compare(samples);
}

export async function benchTaskPs(ctd: Containerd, images: CtrBenchImages, calls: number): Promise<Comparison> {
  const ids = { micrun: 'bench-ps-micrun', runc: 'bench-ps-runc' };
  const started = [
    await ctd.ctr(['run', '-d', '--runtime', MICRUN, images.echo, ids.micrun]),
    await ctd.ctr(['run', '-d', images.busybox, ids.runc, '/bin/busybox', 'sleep', '300']),
  ];
  for (const r of started) if (r.code !== 0) throw new Error(`task ps setup failed: ${r.stderr}`);
  const samples = { micrun: [] as number[], runc: [] as number[] };
  try {
    for (let i = 0; i < calls; i++) {
      for (const runtime of ['micrun', 'runc'] as const) {
        const { ms, value: r } = await timed(() => ctd.ctr(['task', 'ps', ids[runtime]]));
        if (r.code !== 0 || !/\d+/.test(r.stdout)) throw new Error(`ctr task ps ${ids[runtime]} failed: ${r.stderr}`);
        samples[runtime].push(ms);
      }
    }
  } finally {
    await removeTask(ctd, ids.micrun);
    await removeTask(ctd, ids.runc);
  }
  return compare(samples);
}

function compare(samples: { micrun: number[]; runc: number[] }): Comparison {
  const micrun = summarize(samples.micrun);
  const runc = summarize(samples.runc);
  return { micrun, runc, ratio: ratio(micrun.median, runc.median) };
}

async function taskStatus(ctd: Containerd, id: string, namespace?: string): Promise<string | undefined> {
  const ls = await ctd.ctr(['task', 'ls'], { namespace });
  return ls.stdout.split('\n').find((l) => l.split(/\s+/)[0] === id)?.trim().split(/\s+/)[2];
}

async function removeTask(ctd: Containerd, id: string, namespace?: string): Promise<void> {
  await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id], { namespace });
  await waitFor(async () => (await taskStatus(ctd, id, namespace)) !== 'RUNNING', { what: `${id} stopped`, timeoutMs: 15_000 });
  await ctd.ctr(['task', 'delete', id], { namespace });
  await ctd.ctr(['container', 'delete', id], { namespace });
}

export interface ShimMemory {
  /** Total VmRSS of the shim processes, and how many there were. */
  micrun: { totalMiB: number; processes: number };
  runc: { totalMiB: number; processes: number };
  /** micrun total / runc total. */
  ratio: number;
}

export interface MemoryComparison extends ShimMemory {
  containers: number;
}

/**
 * `count` running containers per runtime, started with `ctr run -d`: the summed VmRSS of every
 * shim process that serves them (shimMemory).
 */
export async function benchShimMemory(ctd: Containerd, images: CtrBenchImages, count: number, namespace: string): Promise<MemoryComparison> {
  const ids: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      for (const runtime of ['micrun', 'runc'] as const) {
        const id = `bench-mem-${runtime}-${i}`;
        const r =
          runtime === 'micrun'
            ? await ctd.ctr(['run', '-d', '--runtime', MICRUN, images.echo, id], { namespace })
            : await ctd.ctr(['run', '-d', images.busybox, id, '/bin/busybox', 'sleep', '600'], { namespace });
        if (r.code !== 0) throw new Error(`ctr run -d ${id}: ${r.stderr}`);
        ids.push(id);
      }
    }
    return { containers: count, ...(await shimMemory(ctd, namespace)) };
  } finally {
    for (const id of ids) await removeTask(ctd, id, namespace).catch(() => {});
  }
}

/**
 * The summed VmRSS of every shim process of this containerd and namespace: micrun's daemons
 * (idle ones included) and containerd-shim-runc-v2 processes, a second after the last start.
 */
export async function shimMemory(ctd: Containerd, namespace: string): Promise<ShimMemory> {
  await sleep(1_000);
  const total = (pids: number[]) => round(pids.reduce((sum, pid) => sum + vmRssKiB(pid), 0) / 1024);
  const micrunPids = shimProcesses(ctd, namespace, 'micrun');
  const runcPids = shimProcesses(ctd, namespace, 'runc');
  const micrun = { totalMiB: total(micrunPids), processes: micrunPids.length };
  const runc = { totalMiB: total(runcPids), processes: runcPids.length };
  return { micrun, runc, ratio: ratio(micrun.totalMiB, runc.totalMiB) };
}

/** Shim processes of this containerd and namespace: `-address <ctd> … -namespace <ns>` in argv. */
function shimProcesses(ctd: Containerd, namespace: string, runtime: 'micrun' | 'runc'): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = processArgv(Number(entry));
    } catch {
      continue;
    }
    const arg = (flag: string) => argv[argv.indexOf(flag) + 1];
    if (arg('-address') !== ctd.address || arg('-namespace') !== namespace) continue;
    const isMicrun = argv.includes('serve') && argv.some((a) => a.endsWith('containerd-shim-mica-v2.js'));
    const isRunc = (argv[0] ?? '').endsWith('containerd-shim-runc-v2');
    if ((runtime === 'micrun' && isMicrun) || (runtime === 'runc' && isRunc)) found.push(Number(entry));
  }
  return found;
}

function vmRssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

export interface BurstResult {
  containerd: string;
  started: number;
  succeeded: number;
  /** The first failure's stderr, if any. */
  firstError?: string;
  wallMs: number;
}

/** `count` × `ctr run --rm` of the exit-0 firmware at once, in a fresh namespace. */
export async function benchBurst(ctd: Containerd, images: CtrBenchImages, count: number, namespace: string): Promise<BurstResult> {
  const ids = Array.from({ length: count }, (_, i) => `bench-burst-${i}`);
  const { ms, value: results } = await timed(() =>
    Promise.all(ids.map((id) => ctd.ctr(['run', '--rm', '--runtime', MICRUN, images.exit0, id], { namespace, timeoutMs: 180_000 }))),
  );
  const failed = results.filter((r) => r.code !== 0);
  for (const [i, r] of results.entries()) if (r.code !== 0) await ctd.ctr(['container', 'delete', ids[i]!], { namespace }).catch(() => {});
  return { containerd: ctd.build.version, started: count, succeeded: count - failed.length, firstError: failed[0]?.stderr.trim(), wallMs: round(ms) };
}
