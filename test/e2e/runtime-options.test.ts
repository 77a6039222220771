// Two Kubernetes runtime handlers, two micrun configs, one containerd 2.x — as kata's handlers
// do it: the shipped `micrun` handler (configs/containerd-2.x.toml) takes the node-wide config
// ($MICRUN_CONFIG), and a `micrun-xen` handler added beside it names its own file with
// `options = { ConfigPath = ... }`, which containerd writes on the stdin of `start` as
// runtimeoptions.v1.Options. Each config has its own state dir: a pod of each handler must keep
// its containers' state (pause and firmware container) in its own config's state dir, and
// `delete` must find it there. (Not the log level: containerd in debug mode starts shims with
// -debug, which wins over the file.) Both handlers use sandboxer `podsandbox` (an options table breaks `shim` on
// containerd 2.1, see docs/containerd.md); host-network pods, so no CNI.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { containerdBuild } from './harness/containerd-builds';
import { connectCriWithImages, hostNetworkPod, shippedCriConfig, type CriClient } from './harness/cri';
import { micadInstances, shimDaemons } from './harness/leftovers';
import { startMicrunStack, type MicrunStack } from './harness/micrun-stack';
import { waitFor } from './harness/processes';

const NS = 'k8s.io';
const PAUSE = 'registry.k8s.io/pause:micrun-e2e';
const ECHO = 'docker.io/micrun-test/echo:handlers';
const build = containerdBuild('2');
const work = mkdtempSync(path.join(tmpdir(), 'micrun-handlers-'));
const configs = {
  micrun: { file: path.join(work, 'micrun.toml'), stateDir: path.join(work, 'state-micrun') },
  'micrun-xen': { file: path.join(work, 'micrun-xen.toml'), stateDir: path.join(work, 'state-xen') },
} as const;
type Handler = keyof typeof configs;

let stack: MicrunStack | undefined;
let cri: CriClient;

beforeAll(async () => {
  for (const { file, stateDir } of Object.values(configs)) writeFileSync(file, `[runtime]\nstate_dir = "${stateDir}"\n`);
  const cniBinDir = path.join(work, 'cni', 'bin');
  const cniConfDir = path.join(work, 'cni', 'net.d');
  mkdirSync(cniBinDir, { recursive: true });
  mkdirSync(cniConfDir, { recursive: true });
  const xenHandler = [
    "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.micrun-xen]",
    "  runtime_type = 'io.containerd.mica.v2'",
    "  sandboxer = 'podsandbox'",
    "  pod_annotations = ['org.openeuler.micrun.*']",
    "  container_annotations = ['org.openeuler.micrun.*']",
    "  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.micrun-xen.options]",
    `    ConfigPath = '${configs['micrun-xen'].file}'`,
  ].join('\n');
  stack = await startMicrunStack({
    stateDir: path.join(work, 'state-env'),
    containerd: {
      build,
      cri: true,
      // No containerd-wide MICRUN_STATE_DIR (it would win over both files); the node-wide config
      // is the `micrun` handler's.
      env: { MICRUN_STATE_DIR: '', MICRUN_CONFIG: configs.micrun.file },
      extraConfig: [shippedCriConfig(build, { pauseImage: PAUSE, cniBinDir, cniConfDir }), xenHandler].join('\n'),
    },
    namespace: NS,
    images: [['/bin/busybox', PAUSE], ['echo', ECHO]],
  });
  cri = await connectCriWithImages(stack.ctd.address, [ECHO]);
}, 180_000);

afterAll(async () => {
  cri?.close();
  await stack?.destroy();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

const records = (stateDir: string) => (existsSync(path.join(stateDir, 'containers')) ? readdirSync(path.join(stateDir, 'containers')).sort() : []);

describe(`two runtime handlers with two micrun configs (containerd ${build.version})`, () => {
  test('each pod keeps its state in its own handler\'s config, and everything is removed from there', async () => {
    const pods: Record<Handler, { pod: string; container: string }> = {} as never;
    for (const handler of Object.keys(configs) as Handler[]) {
      const logDirectory = path.join(work, 'pods', handler);
      mkdirSync(logDirectory, { recursive: true });
      const config = hostNetworkPod({ name: `pod-${handler}`, uid: `uid-${handler}`, logDirectory });
      const { pod_sandbox_id: pod } = await cri.runtime('RunPodSandbox', { config, runtime_handler: handler });
      const { container_id: container } = await cri.runtime('CreateContainer', {
        pod_sandbox_id: pod,
        config: { metadata: { name: 'fw', attempt: 0 }, image: { image: ECHO }, log_path: 'fw/0.log' },
        sandbox_config: config,
      });
      await cri.runtime('StartContainer', { container_id: container });
      expect((await cri.runtime('ContainerStatus', { container_id: container })).status.state).toBe('CONTAINER_RUNNING');
      pods[handler] = { pod, container };
    }
    // Each handler's pod (pause container + firmware container) is in its own config's state dir.
    for (const handler of Object.keys(configs) as Handler[]) {
      expect(records(configs[handler].stateDir)).toEqual([pods[handler].pod, pods[handler].container].sort());
    }
    expect(shimDaemons(stack!.ctd.shimSocketDir)).toHaveLength(2);
    for (const handler of Object.keys(configs) as Handler[]) {
      await cri.runtime('StopPodSandbox', { pod_sandbox_id: pods[handler].pod });
      await cri.runtime('RemovePodSandbox', { pod_sandbox_id: pods[handler].pod });
    }
    // One daemon per handler's config (grouping namespace: the config is part of the group); each
    // waits, serving nothing, for its handler's next pod (when_empty wait, the default).
    await waitFor(() => micadInstances(stack!.sim.socketDir).length === 0, { what: 'no micad instance', timeoutMs: 20_000 });
    expect(shimDaemons(stack!.ctd.shimSocketDir)).toHaveLength(2);
    for (const { stateDir } of Object.values(configs)) expect(records(stateDir)).toEqual([]);
  }, 240_000);
});
