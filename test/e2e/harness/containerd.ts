// A private containerd (Debian 12's 1.6 unless a build of the matrix is given) for one test
// file: own root, state, sockets and config under a temp dir, our binaries first on its PATH,
// stopped by PID at the end. Never touches a system
// containerd (/run/containerd is not used: the shim socket dir is redirected through
// MICRUN_SHIM_SOCKET_DIR, which containerd passes on to the shims it starts).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, existsSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SYSTEM_CONTAINERD, type ContainerdBuild } from './containerd-builds';
import { mountsUnder, stopShimDaemons } from './leftovers';
import { run, stopChild, waitFor, type RunResult } from './processes';

export const repoRoot = path.resolve(__dirname, '../../..');
export const distDir = path.join(repoRoot, 'dist');

export interface ContainerdOptions {
  /** Extra TOML appended to the generated config (e.g. CRI runtime sections). */
  extraConfig?: string;
  /** Keep the CRI plugin enabled (off by default: it is slow to start and needs no CNI here). */
  cri?: boolean;
  /** Extra environment for containerd and therefore for every shim it starts. */
  env?: NodeJS.ProcessEnv;
  /** Reuse this directory (to restart containerd over the same state). */
  dir?: string;
  /** Which containerd build runs (default: Debian 12's, /usr/bin). */
  build?: ContainerdBuild;
  /**
   * A network namespace (`ip netns add` name) to run containerd in: the CNI bridge and pod
   * addresses it makes then exist only there. ctr and CRI clients still reach it (unix sockets).
   */
  netns?: string;
  /**
   * A whole config.toml instead of the generated one (with `dir`): it must put root, state and
   * the gRPC / ttrpc sockets at containerdPaths(dir) — e.g. `containerd config default` with
   * those keys rewritten and `micrun install` applied (test/e2e/install-cri.test.ts).
   */
  config?: string;
  /**
   * Link the repository's dist binaries into the bin dir first on containerd's PATH (default
   * true). false: only what the test put there (an installed package's shim).
   */
  linkRepoBinaries?: boolean;
}

/** Where a containerd started on `dir` keeps its root, state and sockets. */
export function containerdPaths(dir: string) {
  return {
    root: path.join(dir, 'root'),
    state: path.join(dir, 'state'),
    address: path.join(dir, 'containerd.sock'),
    ttrpcAddress: path.join(dir, 'containerd.sock.ttrpc'),
  };
}

export interface Containerd {
  dir: string;
  /** The containerd build that runs. */
  build: ContainerdBuild;
  /** This build's `ctr`, for tests that spawn it themselves (ctr(), below, runs it to completion). */
  ctrPath: string;
  address: string;
  ttrpcAddress: string;
  root: string;
  state: string;
  /** Directory of shim sockets (MICRUN_SHIM_SOCKET_DIR). */
  shimSocketDir: string;
  /** Directory put first on containerd's PATH, holding links to our binaries. */
  binDir: string;
  pid: number;
  ctr(args: readonly string[], opts?: { input?: string; timeoutMs?: number; namespace?: string }): Promise<RunResult>;
  /** Stops containerd (SIGTERM, then SIGKILL) but leaves its directories. */
  stop(): Promise<void>;
  /**
   * Stops containerd, then the shim daemons of its shim socket dir (by PID: a failed test may
   * have left tasks that were never deleted), unmounts what is still mounted below its dir and
   * removes the dir.
   */
  destroy(): Promise<void>;
  log(): string;
}

/** What containerd runs, as installed: the shim is its native launcher (dist/containerd-shim-mica-v2). */
export function linkBinaries(binDir: string): void {
  mkdirSync(binDir, { recursive: true });
  for (const file of ['containerd-shim-mica-v2', 'micad-sim.js', 'micrun.js']) {
    const link = path.join(binDir, file.replace(/\.js$/, ''));
    if (!existsSync(link)) symlinkSync(path.join(distDir, file), link);
  }
}

/** The config file version a build reads natively: 2 on 1.6/1.7, 3 on 2.x. */
export function configVersion(build: ContainerdBuild): 2 | 3 {
  return build.major >= 2 ? 3 : 2;
}

export async function startContainerd(opts: ContainerdOptions = {}): Promise<Containerd> {
  const build = opts.build ?? SYSTEM_CONTAINERD;
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'micrun-ctd-'));
  const { root, state, address } = containerdPaths(dir);
  const shimSocketDir = path.join(dir, 's');
  const binDir = path.join(dir, 'bin');
  mkdirSync(root, { recursive: true });
  mkdirSync(state, { recursive: true });
  if (opts.linkRepoBinaries === false) mkdirSync(binDir, { recursive: true });
  else linkBinaries(binDir);
  const disabled = opts.cri ? [] : ['"io.containerd.grpc.v1.cri"'];
  const config = opts.config ?? [
    // 2.x migrates version 2 at every start with a warning in its log (which tests read for
    // warnings). On 2.x the CRI is three plugins and only the gRPC one may be disabled: the images
    // and runtime plugins are dependencies of the transfer service and the sandbox controllers.
    `version = ${configVersion(build)}`,
    `root = "${root}"`,
    `state = "${state}"`,
    `disabled_plugins = [${disabled.join(', ')}]`,
    '[grpc]',
    `  address = "${address}"`,
    '[ttrpc]',
    `  address = "${address}.ttrpc"`,
    '[debug]',
    '  level = "debug"',
    opts.extraConfig ?? '',
  ].join('\n');
  const configPath = path.join(dir, 'config.toml');
  writeFileSync(configPath, config);
  const logPath = path.join(dir, 'containerd.log');
  const { openSync } = await import('node:fs');
  const logFd = openSync(logPath, 'a');
  const env = {
    ...process.env,
    ...opts.env,
    // Our binaries, then this build's containerd-shim-runc-v2, then the rest.
    PATH: `${binDir}:${build.binDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    MICRUN_SHIM_SOCKET_DIR: shimSocketDir,
  };
  const containerdArgv = [path.join(build.binDir, 'containerd'), '--config', configPath];
  // `ip netns exec` enters the namespace and execs containerd: the child's PID is containerd's.
  const [command, ...argv] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...containerdArgv] : containerdArgv;
  const child: ChildProcess = spawn(command!, argv, {
    env,
    stdio: ['ignore', logFd, logFd],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ctrPath = path.join(build.binDir, 'ctr');
  const ctr: Containerd['ctr'] = (args, o = {}) =>
    run(ctrPath, ['--address', address, '--namespace', o.namespace ?? 'default', ...args], {
      input: o.input,
      timeoutMs: o.timeoutMs ?? 60_000,
      env,
    });
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`containerd exited early: ${readFileSync(logPath, 'utf8')}`);
        if (!existsSync(address)) return false;
        return (await ctr(['version'], { timeoutMs: 5_000 })).code === 0;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'containerd to serve' },
    );
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  const stop = async () => {
    await stopChild(child, 10_000);
    await exited;
  };
  return {
    dir,
    build,
    ctrPath,
    address,
    ttrpcAddress: `${address}.ttrpc`,
    root,
    state,
    shimSocketDir,
    binDir,
    pid: child.pid!,
    ctr,
    stop,
    async destroy() {
      await stop();
      // After containerd: with containerd still up, a dying shim makes it run `delete` and
      // publish exits while we tear down.
      await stopShimDaemons(shimSocketDir);
      // Bundles may still hold rootfs mounts if a test failed half-way; deepest first.
      for (const mountPoint of mountsUnder(dir).sort().reverse()) await run('umount', ['-l', mountPoint]);
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => readFileSync(logPath, 'utf8'),
  };
}

/** A task's STATUS column in `ctr task ls` (RUNNING, STOPPED, PAUSED, …); undefined when not listed. */
export async function taskStatus(ctd: Containerd, id: string, namespace?: string): Promise<string | undefined> {
  const ls = await ctd.ctr(['task', 'ls'], { namespace });
  return ls.stdout.split('\n').find((l) => l.split(/\s+/)[0] === id)?.trim().split(/\s+/)[2];
}
