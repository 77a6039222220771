// What a `ctr` user waits for, micrun next to runc in the same containerd in the same run:
//   run -d   `ctr run -d` wall time (it returns once Start succeeded: the task is RUNNING,
//            checked after the clock stops) — micrun running the echo firmware in qemu via
//            micad-sim, runc running busybox `sleep 30`; every run starts a new shim daemon
//   run --rm `ctr run --rm` of a task that exits 0 — micrun's exit-0 firmware, runc's busybox
//            `sh -c 'echo hi'` — from exec to exit code
//   task ps  `ctr task ps` round trip through containerd to our shim vs containerd-shim-runc-v2
// Runs alternate between the two runtimes so that load from other users of the machine hits
// both alike.
import type { Containerd } from '../../test/e2e/harness/containerd';
import { waitFor } from '../../test/e2e/harness/processes';
import { ratio, summarize, timed, type Summary } from './summary';

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

export interface DetachedComparison extends Comparison {
  /** micrun again, but into a pod whose shim daemon is already running (CRI grouping
   * annotations): the `start` one-shot finds a live daemon instead of spawning one. */
  micrunPodDaemon: Summary;
  podRatio: number;
}

export async function benchRunDetached(ctd: Containerd, images: CtrBenchImages, runs: number): Promise<DetachedComparison> {
  const pod = 'bench-pod';
  const podFlags = (type: string) => ['--annotation', `io.kubernetes.cri.container-type=${type}`, '--annotation', `io.kubernetes.cri.sandbox-id=${pod}`];
  const sandbox = await ctd.ctr(['run', '-d', '--runtime', MICRUN, ...podFlags('sandbox'), images.echo, pod]);
  if (sandbox.code !== 0) throw new Error(`pod sandbox: ${sandbox.stderr}`);
  const subjects: (Omit<Subject, 'runtime'> & { name: 'micrun' | 'runc' | 'micrunPodDaemon' })[] = [
    { name: 'micrun', flags: ['--runtime', MICRUN], image: images.echo, command: [] },
    { name: 'runc', flags: [], image: images.busybox, command: ['/bin/busybox', 'sleep', '30'] },
    { name: 'micrunPodDaemon', flags: ['--runtime', MICRUN, ...podFlags('container')], image: images.echo, command: [] },
  ];
  const samples = { micrun: [] as number[], runc: [] as number[], micrunPodDaemon: [] as number[] };
  try {
    for (let i = 0; i < runs; i++) {
      for (const s of subjects) {
        const id = `bench-d-${s.name.toLowerCase()}-${i}`;
        const { ms, value: r } = await timed(() => ctd.ctr(['run', '-d', ...s.flags, s.image, id, ...s.command]));
        if (r.code !== 0) throw new Error(`ctr run -d ${id} failed: ${r.stderr}`);
        const status = await taskStatus(ctd, id);
        if (status !== 'RUNNING') throw new Error(`${id} is ${status} after ctr run -d, not RUNNING`);
        samples[s.name].push(ms);
        await removeTask(ctd, id);
      }
    }
  } finally {
    await removeTask(ctd, pod);
  }
  const cmp = compare(samples);
  const micrunPodDaemon = summarize(samples.micrunPodDaemon);
  return { ...cmp, micrunPodDaemon, podRatio: ratio(micrunPodDaemon.median, cmp.runc.median) };
}

export async function benchRunToExit(ctd: Containerd, images: CtrBenchImages, runs: number): Promise<Comparison> {
  const subjects: (Subject & { expect: string })[] = [
    { runtime: 'micrun', flags: ['--runtime', MICRUN], image: images.exit0, command: [], expect: '' },
    { runtime: 'runc', flags: [], image: images.busybox, command: ['/bin/busybox', 'sh', '-c', 'echo hi'], expect: 'hi' },
  ];
  const samples = { micrun: [] as number[], runc: [] as number[] };
  for (let i = 0; i < runs; i++) {
    for (const s of subjects) {
      const id = `bench-rm-${s.runtime}-${i}`;
      const { ms, value: r } = await timed(() => ctd.ctr(['run', '--rm', ...s.flags, s.image, id, ...s.command], { timeoutMs: 60_000 }));
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

async function taskStatus(ctd: Containerd, id: string): Promise<string | undefined> {
  const ls = await ctd.ctr(['task', 'ls']);
  return ls.stdout.split('\n').find((l) => l.split(/\s+/)[0] === id)?.trim().split(/\s+/)[2];
}

async function removeTask(ctd: Containerd, id: string): Promise<void> {
  await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
  await waitFor(async () => (await taskStatus(ctd, id)) !== 'RUNNING', { what: `${id} stopped`, timeoutMs: 15_000 });
  await ctd.ctr(['task', 'delete', id]);
  await ctd.ctr(['container', 'delete', id]);
}
