// From `containerd config default` to a running pod, for every containerd build of the matrix
// (1.6, 1.7, 2.x): `micrun install` (the built CLI) edits that config, links the shim and writes
// the default micrun config; containerd starts with exactly the result; over CRI a pod with
// handler `micrun` runs firmware on micad-sim while a runc pod runs busybox beside it; then
// `micrun uninstall` gives back the config's original bytes.
//
// What the test changes in the default config before install is only what a shared test
// machine needs: private root/state/sockets (containerdPaths), the pause image name, an empty
// CNI dir (host-network pods need no CNI), restrict_oom_score_adj, NRI's socket on 2.x.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { containerdBuilds, type ContainerdBuild } from './harness/containerd-builds';
import { bin } from '../../package.json';
import { containerdPaths, distDir, repoRoot, startContainerd, type Containerd } from './harness/containerd';
import { connectCri, hostNetworkPod, type CriClient } from './harness/cri';
import { importFirmwareImage } from './harness/firmware-image';
import { shimDaemons } from './harness/leftovers';
import { firmwarePath, startMicadSim, type MicadSim } from './harness/micad-sim';
import { busyboxArchive } from './harness/oci-archive';
import { run, waitFor } from './harness/processes';

const NS = 'k8s.io';
const PAUSE = 'registry.k8s.io/pause:micrun-install-e2e';
const ECHO = 'docker.io/micrun-test/echo:install';
const BUSYBOX = 'docker.io/micrun-test/busybox:install';
const BANNER = 'micrun echo firmware ready';

/** Sets `key` inside `[section]` ('' = top level) of a config as containerd writes it; throws if absent. */
function setKey(text: string, section: string, key: string, value: string): string {
  const lines = text.split('\n');
  let start = 0;
  if (section !== '') {
    start = lines.findIndex((l) => l.trim() === `[${section}]`) + 1;
    if (start === 0) throw new Error(`no [${section}] in the default config`);
  }
  for (let i = start; i < lines.length && !/^\s*\[/.test(lines[i]!); i++) {
    const m = new RegExp(`^(\\s*)${key} = `).exec(lines[i]!);
    if (m) {
      lines[i] = `${m[1]}${key} = ${value}`;
      return lines.join('\n');
    }
  }
  throw new Error(`no ${key} in [${section}] of the default config`);
}

/** `containerd config default` of `build`, made private to `dir` (see the file comment). */
function defaultConfigFor(build: ContainerdBuild, dir: string, cni: string): string {
  const p = containerdPaths(dir);
  const s = JSON.stringify;
  let text = execFileSync(path.join(build.binDir, 'containerd'), ['config', 'default'], { encoding: 'utf8' });
  text = setKey(text, '', 'root', s(p.root));
  text = setKey(text, '', 'state', s(p.state));
  text = setKey(text, 'grpc', 'address', s(p.address));
  text = setKey(text, 'ttrpc', 'address', s(p.ttrpcAddress));
  if (build.major >= 2) {
    text = setKey(text, "plugins.'io.containerd.cri.v1.images'.pinned_images", 'sandbox', s(PAUSE));
    text = setKey(text, "plugins.'io.containerd.cri.v1.runtime'", 'restrict_oom_score_adj', 'true');
    text = setKey(text, "plugins.'io.containerd.cri.v1.runtime'.cni", 'bin_dirs', `[${s(cni)}]`);
    text = setKey(text, "plugins.'io.containerd.cri.v1.runtime'.cni", 'conf_dir', s(cni));
    text = setKey(text, "plugins.'io.containerd.nri.v1.nri'", 'socket_path', s(path.join(dir, 'nri.sock')));
  } else {
    text = setKey(text, 'plugins."io.containerd.grpc.v1.cri"', 'sandbox_image', s(PAUSE));
    text = setKey(text, 'plugins."io.containerd.grpc.v1.cri"', 'restrict_oom_score_adj', 'true');
    text = setKey(text, 'plugins."io.containerd.grpc.v1.cri".cni', 'bin_dir', s(cni));
    text = setKey(text, 'plugins."io.containerd.grpc.v1.cri".cni', 'conf_dir', s(cni));
  }
  return text;
}

const micrunCli = (args: readonly string[]) => run(process.execPath, [path.join(distDir, 'micrun.js'), ...args], { timeoutMs: 60_000 });

describe.each(containerdBuilds().map((b) => [b.version, b] as const))('micrun install on containerd %s', (_version, build) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'micrun-install-e2e-'));
  const configFile = path.join(dir, 'config.toml');
  const micrunConfig = path.join(dir, 'micrun.toml');
  const installFlags = ['--containerd-config', configFile, '--bin-dir', path.join(dir, 'bin'), '--micrun-config', micrunConfig, '--containerd', path.join(build.binDir, 'containerd')];
  let original = '';
  let sim: MicadSim | undefined;
  let ctd: Containerd | undefined;
  let cri: CriClient | undefined;

  beforeAll(async () => {
    const cni = path.join(dir, 'cni');
    mkdirSync(cni);
    original = defaultConfigFor(build, dir, cni);
    writeFileSync(configFile, original);
  });

  afterAll(async () => {
    cri?.close();
    try {
      await ctd?.destroy(); // removes dir
    } finally {
      await sim?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test('install edits only by appending, links the shim and writes a valid default micrun config', async () => {
    const r = await micrunCli(['install', ...installFlags]);
    expect(r.stderr).toContain(`added runtime micrun (io.containerd.mica.v2)`);
    expect(r.code).toBe(0);
    const installed = readFileSync(configFile, 'utf8');
    expect(installed.startsWith(original)).toBe(true);
    expect(readlinkSync(path.join(dir, 'bin', 'containerd-shim-mica-v2'))).toBe(path.join(repoRoot, bin['containerd-shim-mica-v2']));
    expect(r.stderr).toContain('containerd must be restarted');
    const again = await micrunCli(['install', ...installFlags]);
    expect(again.code).toBe(0);
    expect(readFileSync(configFile, 'utf8')).toBe(installed);
  }, 120_000);

  test('containerd runs the result: a micrun pod (firmware on micad-sim) and a runc pod (busybox) side by side', async () => {
    sim = await startMicadSim();
    // The shim link install made is in bin/, which the harness puts first on containerd's PATH
    // (it only adds the links that are missing); MICRUN_CONFIG is the config install wrote.
    ctd = await startContainerd({
      dir,
      build,
      config: readFileSync(configFile, 'utf8'),
      env: { MICRUN_CONFIG: micrunConfig, MICRUN_MICA_SOCKET_DIR: sim.socketDir, MICRUN_STATE_DIR: path.join(dir, 'micrun-state') },
    });
    await importFirmwareImage(ctd, firmwarePath('echo'), ECHO, { namespace: NS });
    for (const [name, argv] of [[PAUSE, ['/bin/busybox', 'sleep', 'infinity']], [BUSYBOX, ['/bin/busybox', 'sleep', '3600']]] as const) {
      const archive = path.join(dir, `${name.replace(/\W/g, '_')}.tar`);
      writeFileSync(archive, busyboxArchive(name, argv));
      const imported = await ctd.ctr(['image', 'import', archive], { namespace: NS });
      expect(imported.stderr).toBe('');
    }
    cri = connectCri(ctd.address);
    await waitFor(
      async () => {
        for (const image of [PAUSE, ECHO, BUSYBOX]) if (!(await cri!.image('ImageStatus', { image: { image } })).image) return false;
        return true;
      },
      { what: 'CRI to know the imported images', timeoutMs: 30_000, intervalMs: 200 },
    );

    const pods: Record<string, { id: string; container: string; logDir: string }> = {};
    for (const [handler, image] of [['micrun', ECHO], ['runc', BUSYBOX]] as const) {
      const logDir = path.join(dir, 'pods', handler);
      mkdirSync(logDir, { recursive: true });
      const config = hostNetworkPod({ name: `${handler}-pod`, uid: `uid-${handler}`, logDirectory: logDir });
      const { pod_sandbox_id: id } = await cri.runtime('RunPodSandbox', { config, runtime_handler: handler });
      const { container_id: container } = await cri.runtime('CreateContainer', {
        pod_sandbox_id: id,
        config: { metadata: { name: handler, attempt: 0 }, image: { image }, log_path: `${handler}/0.log` },
        sandbox_config: config,
      });
      await cri.runtime('StartContainer', { container_id: container });
      pods[handler] = { id, container, logDir };
    }
    for (const { container } of Object.values(pods)) {
      expect((await cri.runtime('ContainerStatus', { container_id: container })).status.state).toBe('CONTAINER_RUNNING');
    }
    const log = path.join(pods.micrun!.logDir, 'micrun', '0.log');
    await waitFor(() => { try { return readFileSync(log, 'utf8').includes(BANNER); } catch { return false; } }, { what: `${BANNER} in ${log}`, timeoutMs: 30_000 });
    // Each pod on its own handler, and one micrun shim daemon serves the micrun pod.
    for (const [handler, { id }] of Object.entries(pods)) {
      expect((await cri.runtime('PodSandboxStatus', { pod_sandbox_id: id })).status.runtime_handler).toBe(handler);
    }
    expect(shimDaemons(ctd.shimSocketDir)).toHaveLength(1);

    for (const { id } of Object.values(pods)) {
      await cri.runtime('StopPodSandbox', { pod_sandbox_id: id });
      await cri.runtime('RemovePodSandbox', { pod_sandbox_id: id });
    }
    expect((await cri.runtime('ListContainers', {})).containers).toEqual([]);
  }, 300_000);

  test('uninstall gives back the original config bytes and removes the link and default config', async () => {
    const r = await micrunCli(['uninstall', ...installFlags]);
    expect(r.code).toBe(0);
    expect(readFileSync(configFile, 'utf8')).toBe(original);
    expect(() => readlinkSync(path.join(dir, 'bin', 'containerd-shim-mica-v2'))).toThrow(/ENOENT/);
    expect(() => readFileSync(micrunConfig)).toThrow(/ENOENT/);
  }, 60_000);
});
