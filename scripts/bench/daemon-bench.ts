// The shim binary and daemon on their own, driven the way containerd drives them:
//   start    wall time of the `start` one-shot (exec of the built shim → address printed), cold
//            (spawns a new daemon) and against a live daemon (connect + print), next to a bare
//            `node -e 0` on the same machine
//   phases   where a container start spends its time on a fresh daemon and on a warm one:
//            `start` one-shot, first ttrpc reply (the daemon booted), Create, Start
//   rss      one daemon's VmRSS serving 1, 10 and 50 running containers (Create + Start over
//            ttrpc on the daemon's socket, each with a stdout fifo and a QEMU behind micad-sim)
//   cycles   N × (Create, Start, Kill, Wait, Delete) in sequence in one daemon: VmRSS and open
//            fds before and after, so leaks show
// Daemons of rss/cycles run with gc-probe.cjs preloaded: besides raw VmRSS, each point also
// records RSS and live heap right after a full GC (what is really retained).
// containerd is only the events sink here (TTRPC_ADDRESS): no image, no snapshot, no ctr.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { containerd } from '../../src/proto';
import { TtrpcClient } from '../../src/ttrpc';
import { repoRoot, type Containerd } from '../../test/e2e/harness/containerd';
import { shimDaemons } from '../../test/e2e/harness/leftovers';
import { isAlive, waitFor } from '../../test/e2e/harness/processes';
import { msSince, round, sleep, summarize, type Summary } from './summary';

const TASK = 'containerd.task.v2.Task';
const T = containerd.task.v2;
const SIGKILL = 9;

export interface DaemonBenchEnv {
  shim: string;
  /** The native launcher containerd runs (dist/containerd-shim-mica-v2). */
  launcher: string;
  ctd: Containerd;
  micaSocketDir: string;
  /** Firmware that runs until killed (echo.elf). */
  firmware: string;
  work: string;
}

export interface StartResult {
  coldMs: Summary;
  liveDaemonMs: Summary;
  /** The same live-daemon `start`, answered by the native launcher without Node. */
  liveLauncherMs: Summary;
  nodeBaselineMs: Summary;
}

/** process.memoryUsage() of the daemon right after a full GC, KiB. */
export interface AfterGc {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
}

export interface PhaseResult {
  /** A fresh daemon: the `start` one-shot, then the first reply (Connect) once it has booted. */
  startOneShotMs: Summary;
  firstReplyMs: Summary;
  /** Create and Start of the first container in that daemon. */
  createMs: Summary;
  startMs: Summary;
  /** Create and Start of a second container in the same, warm daemon. */
  warmCreateMs: Summary;
  warmStartMs: Summary;
}

export interface RssResult {
  kib: { '1': number; '10': number; '50': number };
  /** (RSS at 50 − RSS at 1) / 49, in KiB. */
  perExtraContainerKiB: number;
  afterGc: { '1': AfterGc; '10': AfterGc; '50': AfterGc };
  /** (heapUsed at 50 − heapUsed at 1) / 49 after full GCs, in KiB. */
  heapPerExtraContainerKiB: number;
  createStartMs: Summary;
}

export interface CycleResult {
  cycles: number;
  before: { rssKiB: number; fds: number; afterGc: AfterGc };
  /** After half the cycles: growth from here to `after` is past V8's and malloc's warm-up. */
  middle: { rssKiB: number; afterGc: AfterGc };
  after: { rssKiB: number; fds: number; afterGc: AfterGc };
  growthKiB: number;
  /** Growth of RSS and of the live heap, both measured right after a full GC. */
  afterGcGrowthKiB: { rss: number; heapUsed: number };
  /** The same over the second half only, per cycle: a steady leak shows here. */
  secondHalfPerCycleKiB: { rss: number; heapUsed: number };
  cycleMs: Summary;
  leftoverInstances: number;
}

export class DaemonBench {
  private readonly socketDir: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly probeDir: string;
  private readonly probedEnv: NodeJS.ProcessEnv;
  private bundles = 0;

  constructor(private readonly e: DaemonBenchEnv) {
    this.socketDir = path.join(e.work, 'shim-sockets');
    this.env = {
      ...process.env,
      MICRUN_SHIM_SOCKET_DIR: this.socketDir,
      MICRUN_STATE_DIR: path.join(e.work, 'shim-state'),
      MICRUN_MICA_SOCKET_DIR: e.micaSocketDir,
      TTRPC_ADDRESS: e.ctd.ttrpcAddress,
      // These sections follow one daemon's life each (Shutdown ends it when it serves nothing).
      MICRUN_SHIM_WHEN_EMPTY: 'exit',
    };
    this.probeDir = path.join(e.work, 'gc-probe');
    mkdirSync(this.probeDir, { recursive: true });
    const probe = path.join(repoRoot, 'scripts', 'bench', 'gc-probe.cjs');
    this.probedEnv = {
      ...this.env,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc --require ${probe}`.trim(),
      MICRUN_BENCH_GC_PROBE_DIR: this.probeDir,
    };
  }

  async start(runs: number): Promise<StartResult> {
    const cold: number[] = [];
    const live: number[] = [];
    const liveLauncher: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      const id = `start-${i}`;
      const bundle = this.bundle(id, false);
      const coldStart = this.timeStart(id, bundle);
      cold.push(coldStart.ms);
      // `start` returns before the daemon has booted (it inherits the bound socket): wait for its
      // first reply so the live measurement does not share the CPU with that boot.
      const client = await TtrpcClient.connect(coldStart.socket);
      await call(client, 'Connect', T.ConnectRequest.encode({ id }).finish());
      client.close();
      live.push(this.timeStart(id, bundle).ms); // same id → same group → that daemon
      liveLauncher.push(this.timeStart(id, bundle, this.e.launcher).ms); // the native launcher answers it
      const t0 = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0']);
      bare.push(msSince(t0));
      for (const pid of this.daemons()) process.kill(pid, 'SIGTERM');
    }
    await waitFor(() => this.daemons().length === 0, { what: 'start-bench daemons gone', timeoutMs: 15_000 });
    return { coldMs: summarize(cold), liveDaemonMs: summarize(live), liveLauncherMs: summarize(liveLauncher), nodeBaselineMs: summarize(bare) };
  }

  async phases(runs: number): Promise<PhaseResult> {
    const s = { startOneShot: [] as number[], firstReply: [] as number[], create: [] as number[], start: [] as number[], warmCreate: [] as number[], warmStart: [] as number[] };
    for (let i = 0; i < runs; i++) {
      const id = `phase-${i}`;
      let t0 = process.hrtime.bigint();
      const bundle = this.bundle(id, false);
      const r = spawnSync(process.execPath, this.startArgs(id), { cwd: bundle, env: this.env });
      s.startOneShot.push(msSince(t0));
      if (r.status !== 0) throw new Error(`shim start failed: ${r.stderr.toString()}`);
      t0 = process.hrtime.bigint();
      const client = await TtrpcClient.connect(r.stdout.toString().trim().replace(/^unix:\/\//, ''));
      await call(client, 'Connect', T.ConnectRequest.encode({ id }).finish());
      s.firstReply.push(msSince(t0));
      for (const [c, createKey, startKey] of [[`${id}-a`, 'create', 'start'], [`${id}-b`, 'warmCreate', 'warmStart']] as const) {
        const [createMs, startMs] = await this.createStart(client, c);
        s[createKey].push(createMs);
        s[startKey].push(startMs);
      }
      for (const c of [`${id}-a`, `${id}-b`]) await this.stopDelete(client, c);
      const pid = this.daemons()[0];
      if (pid !== undefined) await this.shutdown(client, pid);
      else client.close();
    }
    return {
      startOneShotMs: summarize(s.startOneShot),
      firstReplyMs: summarize(s.firstReply),
      createMs: summarize(s.create),
      startMs: summarize(s.start),
      warmCreateMs: summarize(s.warmCreate),
      warmStartMs: summarize(s.warmStart),
    };
  }

  async rss(): Promise<RssResult> {
    const { client, pid } = await this.newDaemon('rss-0');
    const ids: string[] = [];
    const createStart: number[] = [];
    const kib: Partial<RssResult['kib']> = {};
    const gc: Partial<RssResult['afterGc']> = {};
    try {
      for (const n of [1, 10, 50] as const) {
        while (ids.length < n) {
          const id = `rss-${ids.length}`;
          const t0 = process.hrtime.bigint();
          await this.createStart(client, id);
          createStart.push(msSince(t0));
          ids.push(id);
        }
        await sleep(2_000); // let the daemon settle (GC, console banners) before reading RSS
        kib[n] = rssKiB(pid);
        gc[n] = await this.afterGc(pid);
      }
    } finally {
      for (const id of ids) await this.stopDelete(client, id).catch(() => {});
      await this.shutdown(client, pid);
    }
    const k = kib as RssResult['kib'];
    const g = gc as RssResult['afterGc'];
    return {
      kib: k,
      perExtraContainerKiB: round((k['50'] - k['1']) / 49),
      afterGc: g,
      heapPerExtraContainerKiB: round((g['50'].heapUsed - g['1'].heapUsed) / 49),
      createStartMs: summarize(createStart),
    };
  }

  async cycles(count: number, warmup = 10): Promise<CycleResult> {
    const { client, pid } = await this.newDaemon('cycle-anchor');
    const durations: number[] = [];
    try {
      const cycle = async (id: string) => {
        const t0 = process.hrtime.bigint();
        await this.createStart(client, id);
        await this.stopDelete(client, id);
        return msSince(t0);
      };
      for (let i = 0; i < warmup; i++) await cycle(`warm-${i}`);
      await sleep(2_000);
      const before = { rssKiB: rssKiB(pid), fds: fdCount(pid), afterGc: await this.afterGc(pid) };
      const half = Math.floor(count / 2);
      let middle: CycleResult['middle'] | undefined;
      for (let i = 0; i < count; i++) {
        if (i === half) {
          await sleep(1_000);
          middle = { rssKiB: rssKiB(pid), afterGc: await this.afterGc(pid) };
        }
        durations.push(await cycle(`cycle-${i}`));
      }
      await sleep(2_000);
      const after = { rssKiB: rssKiB(pid), fds: fdCount(pid), afterGc: await this.afterGc(pid) };
      const leftoverInstances = readdirSync(this.e.micaSocketDir).filter((f) => f.endsWith('.socket') && f !== 'mica-create.socket').length;
      return {
        cycles: count,
        before,
        middle: middle!,
        after,
        growthKiB: after.rssKiB - before.rssKiB,
        afterGcGrowthKiB: { rss: after.afterGc.rss - before.afterGc.rss, heapUsed: after.afterGc.heapUsed - before.afterGc.heapUsed },
        secondHalfPerCycleKiB: {
          rss: round((after.afterGc.rss - middle!.afterGc.rss) / (count - half)),
          heapUsed: round((after.afterGc.heapUsed - middle!.afterGc.heapUsed) / (count - half)),
        },
        cycleMs: summarize(durations),
        leftoverInstances,
      };
    } finally {
      await this.shutdown(client, pid);
    }
  }

  /** Starts a daemon through the `start` one-shot (as containerd does) and connects to it. */
  private async newDaemon(id: string): Promise<{ client: TtrpcClient; pid: number }> {
    const bundle = this.bundle(id, false);
    const r = spawnSync(process.execPath, this.startArgs(id), { cwd: bundle, env: this.probedEnv });
    if (r.status !== 0) throw new Error(`shim start failed: ${r.stderr.toString()}`);
    const socket = r.stdout.toString().trim().replace(/^unix:\/\//, '');
    const pid = this.daemons().find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(socket));
    if (pid === undefined) throw new Error(`no daemon process serving ${socket}`);
    return { client: await TtrpcClient.connect(socket), pid };
  }

  /** Asks the daemon's gc-probe for a full GC and its memory right after. */
  private async afterGc(pid: number): Promise<AfterGc> {
    const file = path.join(this.probeDir, `${pid}.jsonl`);
    const lines = () => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
    const seen = lines().length;
    process.kill(pid, 'SIGUSR2');
    await waitFor(() => lines().length > seen, { what: `gc-probe answer from daemon ${pid}`, timeoutMs: 10_000 });
    return JSON.parse(lines().at(-1)!) as AfterGc;
  }

  /** Create then Start; resolves with the wall time of each call. */
  private async createStart(client: TtrpcClient, id: string): Promise<[number, number]> {
    const bundle = this.bundle(id, true);
    const stdout = path.join(bundle, 'stdout');
    mkfifo(stdout);
    let t0 = process.hrtime.bigint();
    await call(client, 'Create', T.CreateTaskRequest.encode({ id, bundle, stdout, stdin: '', stderr: '', terminal: false }).finish());
    const createMs = msSince(t0);
    t0 = process.hrtime.bigint();
    await call(client, 'Start', T.StartRequest.encode({ id }).finish());
    return [createMs, msSince(t0)];
  }

  private async stopDelete(client: TtrpcClient, id: string): Promise<void> {
    await call(client, 'Kill', T.KillRequest.encode({ id, signal: SIGKILL }).finish());
    await call(client, 'Wait', T.WaitRequest.encode({ id }).finish());
    await call(client, 'Delete', T.DeleteRequest.encode({ id }).finish());
  }

  private async shutdown(client: TtrpcClient, pid: number): Promise<void> {
    await call(client, 'Shutdown', T.ShutdownRequest.encode({ id: '' }).finish()).catch(() => {});
    client.close();
    await waitFor(() => !isAlive(pid), { what: `daemon ${pid} exit after Shutdown`, timeoutMs: 10_000 }).catch(() => process.kill(pid, 'SIGKILL'));
  }

  /** `start` through Node (the JS), or through `launcher` (dist/containerd-shim-mica-v2) when given. */
  private timeStart(id: string, bundle: string, launcher?: string): { ms: number; socket: string } {
    const t0 = process.hrtime.bigint();
    const r = launcher
      ? spawnSync(launcher, this.startArgs(id).slice(1), { cwd: bundle, env: this.env })
      : spawnSync(process.execPath, this.startArgs(id), { cwd: bundle, env: this.env });
    const ms = msSince(t0);
    if (r.status !== 0) throw new Error(`shim start ${id} failed: ${r.stderr.toString()}`);
    return { ms, socket: r.stdout.toString().trim().replace(/^unix:\/\//, '') };
  }

  private startArgs(id: string): string[] {
    return [this.e.shim, '-namespace', 'bench', '-address', this.e.ctd.address, '-publish-binary', '/bin/true', '-id', id, 'start'];
  }

  /** A bundle directory; with firmware, a rootfs holding it and a config.json that runs it. */
  private bundle(id: string, withFirmware: boolean): string {
    const dir = path.join(this.e.work, 'bundles', `${id}-${this.bundles++}`);
    mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
    if (withFirmware) copyFileSync(this.e.firmware, path.join(dir, 'rootfs', 'firmware.elf'));
    const spec = { ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { args: ['/firmware.elf'], env: [], cwd: '/' } };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
    return dir;
  }

  /** PIDs of shim daemons serving sockets under our socket dir. */
  private daemons(): number[] {
    return shimDaemons(this.socketDir);
  }
}

function call(client: TtrpcClient, method: string, payload: Uint8Array): Promise<Uint8Array> {
  return client.call(TASK, method, payload, { timeoutMs: 30_000 });
}

function mkfifo(file: string): void {
  const r = spawnSync('mkfifo', ['-m', '0600', file]);
  if (r.status !== 0) throw new Error(`mkfifo ${file}: ${r.stderr.toString()}`);
}

export const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
