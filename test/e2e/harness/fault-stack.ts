// What every fault-injection test starts: micad-sim behind a fault proxy (micad-proxy.ts), a
// private containerd whose shims talk to the proxy with a short micad timeout, and the firmware
// images — plus the two checks each fault ends with:
//   - unknownReplies(): the shim daemon's own record of every reply it sent as Unknown (the
//     ttrpc server logs "ttrpc call failed" with the method for exactly those, into the bundle's
//     log fifo, which containerd copies into its log). containerd 1.6 folds Internal and Unknown
//     into one "unknown" for ctr, so ctr's text cannot tell them apart; the shim's log can.
//   - leftovers(): micad instances, QEMU processes, mounts, shim daemons and sockets, state
//     records, tasks and containers still there. Temp mounts a killed ctr or containerd left
//     (containerdTempMounts) are containerd's, not micrun's: destroy() unmounts them instead.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createMicaClient } from '../../../src/mica';
import { startContainerd, type Containerd, type ContainerdOptions } from './containerd';
import type { ContainerdBuild } from './containerd-builds';
import { importFirmwareImage } from './firmware-image';
import { micadInstances, mountsUnder, qemuChildren, removeContainerdTempMounts, shimDaemons } from './leftovers';
import { startMicadProxy, type MicadProxy } from './micad-proxy';
import { firmwarePath, startMicadSim, type MicadSim } from './micad-sim';
import { describeEachContainerd } from './matrix';
import { isAlive, waitFor } from './processes';

export const RUNTIME = 'io.containerd.mica.v2';

export interface FaultStack {
  sim: MicadSim;
  proxy: MicadProxy;
  /** The containerd now running (a new object after killAndRestartContainerd()). */
  readonly ctd: Containerd;
  /** SIGKILLs containerd by PID (a crash) and starts it again over the same root and state. */
  killAndRestartContainerd(): Promise<void>;
  stateDir: string;
  /** From now on: lines of the shim's log naming a call it answered with Unknown. */
  watchUnknownReplies(): () => string[];
  /**
   * Removes every container containerd still lists and every instance micad still has (a fault
   * test that found one left over has failed already; the next test starts clean instead of
   * failing on the same leftover).
   */
  scrub(): Promise<void>;
  leftovers(): Promise<Leftovers>;
  /**
   * Leftovers once cleanup had its chance: polls until nothing is left (containerd's delete and
   * the daemon's exit run after the failing call returned) or `timeoutMs` passed, and returns
   * the last look — the test compares it with NOTHING_LEFT, so a failure lists what stayed.
   */
  settledLeftovers(timeoutMs?: number): Promise<Leftovers>;
  /** What a user does after a failure: remove the task and the container, ignoring "not found". */
  removeContainer(id: string): Promise<void>;
  destroy(): Promise<void>;
}

export interface Leftovers {
  instances: string[];
  qemu: number[];
  mounts: string[];
  daemons: number[];
  shimSockets: string[];
  stateRecords: string[];
  tasks: string[];
  containers: string[];
}

export const NOTHING_LEFT: Leftovers = { instances: [], qemu: [], mounts: [], daemons: [], shimSockets: [], stateRecords: [], tasks: [], containers: [] };

const list = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

export interface FaultStackOptions {
  /** The work dir of the test file (removed by the test). */
  work: string;
  /** [firmware fixture, image name] */
  images: readonly (readonly [string, string])[];
  /** micad request timeout of the shims (mica.timeout_ms). */
  micadTimeoutMs?: number;
  /** Overrides MICRUN_STATE_DIR (e.g. a small tmpfs). */
  stateDir?: string;
  containerd?: ContainerdOptions;
}

export async function startFaultStack(opts: FaultStackOptions): Promise<FaultStack> {
  const stateDir = opts.stateDir ?? path.join(opts.work, 'state');
  mkdirSync(stateDir, { recursive: true });
  const config = path.join(opts.work, 'micrun.toml');
  writeFileSync(config, `[mica]\ntimeout_ms = ${opts.micadTimeoutMs ?? 3000}\n`);
  const ctdEnv = (proxy: MicadProxy) => ({ MICRUN_MICA_SOCKET_DIR: proxy.socketDir, MICRUN_STATE_DIR: stateDir, MICRUN_CONFIG: config, ...opts.containerd?.env });
  const sim = await startMicadSim();
  let proxy: MicadProxy | undefined;
  let ctd: Containerd | undefined;
  const destroy = async () => {
    try {
      // Before containerd's dir goes: an overlay temp mount still uses its snapshot dirs.
      const temp = ctd ? await removeContainerdTempMounts(ctd.dir) : [];
      if (temp.length > 0) console.warn(`unmounted ${temp.length} temp mount(s) a killed ctr or containerd left (not micrun's): ${temp.join(', ')}`);
      await ctd?.destroy();
    } finally {
      await proxy?.close();
      await sim.stop();
    }
  };
  try {
    proxy = await startMicadProxy(sim.socketDir);
    ctd = await startContainerd({ ...opts.containerd, env: ctdEnv(proxy) });
    for (const [fixture, name] of opts.images) await importFirmwareImage(ctd, firmwarePath(fixture), name);
  } catch (err) {
    await destroy();
    throw err;
  }
  let c = ctd;
  const p = proxy;
  const mica = createMicaClient({ socketDir: sim.socketDir, timeoutMs: 10_000 });
  const removeContainer = async (id: string) => {
    await c.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await c.ctr(['task', 'delete', '-f', id]);
    await c.ctr(['container', 'delete', id]);
  };
  const leftovers = async (): Promise<Leftovers> => {
    const column = (out: string) => out.split('\n').slice(1).map((l) => l.split(/\s+/)[0]!).filter((x) => x !== '');
    return {
      instances: micadInstances(sim.socketDir),
      qemu: qemuChildren(sim.pid),
      mounts: [...mountsUnder(c.dir), ...mountsUnder(stateDir)],
      daemons: shimDaemons(c.shimSocketDir),
      shimSockets: list(c.shimSocketDir),
      stateRecords: list(path.join(stateDir, 'containers')),
      tasks: column((await c.ctr(['task', 'ls'])).stdout),
      containers: column((await c.ctr(['container', 'ls'])).stdout),
    };
  };
  return {
    sim,
    proxy: p,
    get ctd() {
      return c;
    },
    async killAndRestartContainerd() {
      process.kill(c.pid, 'SIGKILL');
      await waitFor(() => !isAlive(c.pid), { what: `containerd ${c.pid} gone after SIGKILL` });
      c = ctd = await startContainerd({ ...opts.containerd, env: ctdEnv(p), dir: c.dir });
    },
    stateDir,
    watchUnknownReplies() {
      const from = c.log().length;
      return () => c.log().slice(from).split('\n').filter((l) => l.includes('ttrpc call failed'));
    },
    async scrub() {
      for (const id of (await leftovers()).containers) await removeContainer(id);
      for (const socket of micadInstances(sim.socketDir)) await mica.remove(socket.slice(0, -'.socket'.length)).catch(() => {});
    },
    leftovers,
    async settledLeftovers(timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const left = await leftovers();
        if (Object.values(left).every((v: unknown[]) => v.length === 0) || Date.now() > until) return left;
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    removeContainer,
    destroy,
  };
}

export interface FaultMatrixOptions {
  /** The stack for one build; `buildWork` is that build's own dir below the file's work dir. */
  stack(buildWork: string): Promise<Omit<FaultStackOptions, 'work'>> | Omit<FaultStackOptions, 'work'>;
  /** After the stack is destroyed (e.g. unmount what stack() mounted). */
  cleanup?(buildWork: string): void;
}

/**
 * A fault file's tests once per containerd build of the matrix (matrix.ts): each build gets a
 * fault stack of its own in `<work>/<version>`, started before its block, scrubbed after each
 * test, destroyed after the block. `body` reaches the running stack through `stack()`.
 * The storm and the property test run on Debian's containerd 1.6 only: both passed on 1.7.24 and
 * 2.1.9 when tried (2026-12-01), and together they would add about a minute to every suite run.
 */
export function describeFaultsOnEachContainerd(
  title: string,
  work: string,
  opts: FaultMatrixOptions,
  body: (stack: () => FaultStack, build: ContainerdBuild, buildWork: string) => void,
): void {
  describeEachContainerd(title, (build) => {
    const buildWork = path.join(work, build.version);
    let stack: FaultStack | undefined;
    beforeAll(async () => {
      mkdirSync(buildWork, { recursive: true });
      const o = await opts.stack(buildWork);
      stack = await startFaultStack({ ...o, work: buildWork, containerd: { ...o.containerd, build } });
    });
    afterEach(async () => {
      await stack?.scrub();
    });
    afterAll(async () => {
      try {
        await stack?.destroy();
      } finally {
        opts.cleanup?.(buildWork);
      }
    });
    body(() => stack!, build, buildWork);
  });
}
