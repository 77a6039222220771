// Kubernetes on containerd 2.x with `sandboxer = "shim"`: the `micrun-sandboxer` handler of
// configs/containerd-2.x.toml as shipped, driven over CRI gRPC (harness/cri.ts) as kubelet drives
// it. containerd then runs no pause container: `start` runs in a sandbox bundle without
// config.json and containerd calls micrun's Sandbox service — CreateSandbox (options = the
// PodSandboxConfig, no annotations field), StartSandbox, WaitSandbox pending for the pod's life,
// SandboxStatus and Platform for the containers, StopSandbox (timeout 0) on StopPodSandbox,
// ShutdownSandbox on RemovePodSandbox — and, after containerd is restarted under the running
// pod, SandboxStatus and WaitSandbox again.
//
// Host-network pods crash containerd 2.1.9 in this mode (containerd #12983), so pods get their
// own netns and need CNI: containerd runs inside a network namespace this file creates, with a
// bridge + host-local conflist, so the bridge and every pod address exist only there. The
// namespace is deleted afterwards; no traffic leaves it.
//
// The same pod runs twice, with micrun's bootstrap form `address` (Task API v2) and `json-v3`
// (Task API v3), to measure what v3 changes on 2.x (printed; bounds live in npm run bench).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BootstrapForm } from '../../src/config';
import { startContainerd, type Containerd } from './harness/containerd';
import { containerdBuild } from './harness/containerd-builds';
import { connectCri, connectCriWithImages, CriError, shippedCriConfig, type CriClient } from './harness/cri';
import { micadInstances, mountsUnder, qemuChildren, shimDaemons } from './harness/leftovers';
import { firmwarePath } from './harness/micad-sim';
import { startMicrunStack, type MicrunStack } from './harness/micrun-stack';
import { isAlive, run, waitFor } from './harness/processes';

const NS = 'k8s.io';
const HANDLER = 'micrun-sandboxer';
const PAUSE = 'registry.k8s.io/pause:micrun-e2e';
const ECHO = 'docker.io/micrun-test/echo:sandboxer';
const BANNER = 'micrun echo firmware ready';
const SUBNET = '10.231.7.0/24';
const GRPC_INVALID_ARGUMENT = 3;
const build = containerdBuild('2');
const work = mkdtempSync(path.join(tmpdir(), 'micrun-sbx-cri-'));
const netns = `micrun-e2e-${process.pid}`;
/** sha256 of the echo firmware: a pod annotation every container of the pod must inherit. */
const echoSha256 = createHash('sha256').update(readFileSync(firmwarePath('echo'))).digest('hex');
const measured: Record<string, number> = {};

beforeAll(async () => {
  const add = await run('ip', ['netns', 'add', netns]);
  if (add.code !== 0) throw new Error(`ip netns add ${netns}: ${add.stderr}`);
  await run('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
});
afterAll(async () => {
  console.log(`containerd ${build.version} shim sandboxer, pod of two containers (ms):`, measured);
  await run('ip', ['netns', 'del', netns]);
  rmSync(work, { recursive: true, force: true });
});

/** A bridge + host-local network whose state lives in `dir` (not /var/lib/cni). */
function writeCniConfig(dir: string): string {
  const confDir = path.join(dir, 'net.d');
  mkdirSync(confDir, { recursive: true });
  const conflist = {
    cniVersion: '1.0.0',
    name: 'micrun-e2e',
    plugins: [
      {
        type: 'bridge',
        bridge: 'micrun-e2e0',
        isGateway: false,
        ipMasq: false,
        ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET }]], dataDir: path.join(dir, 'ipam') },
      },
    ],
  };
  writeFileSync(path.join(confDir, '10-micrun-e2e.conflist'), JSON.stringify(conflist));
  return confDir;
}

for (const form of ['address', 'json-v3'] as const satisfies readonly BootstrapForm[]) {
  describe(`CRI sandboxer = "shim" (containerd ${build.version}, bootstrap ${form}) → micrun Sandbox service`, () => {
    const dir = path.join(work, form);
    const stateDir = path.join(dir, 'state');
    const logRoot = path.join(dir, 'pods');
    let stack: MicrunStack | undefined;
    let ctd: Containerd;
    let cri: CriClient;
    let ctdOptions: Parameters<typeof startContainerd>[0];

    beforeAll(async () => {
      mkdirSync(dir, { recursive: true });
      // containerd-wide MICRUN_CONFIG: in shim mode on 2.1 a handler may not have an `options` table.
      const micrunConfig = path.join(dir, 'micrun.toml');
      writeFileSync(micrunConfig, `[shim]\nbootstrap = "${form}"\n`);
      const cniConfDir = writeCniConfig(path.join(dir, 'cni'));
      stack = await startMicrunStack({
        stateDir,
        containerd: {
          build,
          cri: true,
          netns,
          env: { MICRUN_CONFIG: micrunConfig },
          extraConfig: shippedCriConfig(build, { pauseImage: PAUSE, cniBinDir: '/usr/lib/cni', cniConfDir }),
        },
        namespace: NS,
        images: [['/bin/busybox', PAUSE], ['echo', ECHO]],
      });
      ctd = stack.ctd;
      ctdOptions = {
        build,
        cri: true,
        netns,
        dir: ctd.dir,
        env: { MICRUN_CONFIG: micrunConfig, MICRUN_MICA_SOCKET_DIR: stack.sim.socketDir, MICRUN_STATE_DIR: stateDir },
        extraConfig: shippedCriConfig(build, { pauseImage: PAUSE, cniBinDir: '/usr/lib/cni', cniConfDir }),
      };
      cri = await connectCriWithImages(ctd.address, [ECHO]);
    }, 180_000);

    afterAll(async () => {
      cri?.close();
      await stack?.destroy();
    }, 60_000);

    const taskDir = (id: string) => path.join(ctd.state, 'io.containerd.runtime.v2.task', NS, id);
    /** The shim sandbox controller's bundle of a pod (not a task bundle: there is no pause task). */
    const sandboxDir = (id: string) => path.join(ctd.state, 'io.containerd.sandbox.controller.v1.shim', NS, id);
    const containerState = async (id: string) => (await cri.runtime('ContainerStatus', { container_id: id })).status.state;
    const podStatus = async (id: string) => (await cri.runtime('PodSandboxStatus', { pod_sandbox_id: id })).status;

    function podConfig(name: string, annotations: Record<string, string>): object {
      const logDir = path.join(logRoot, name);
      mkdirSync(logDir, { recursive: true });
      return {
        metadata: { name, uid: `uid-${name}`, namespace: 'default', attempt: 0 },
        hostname: name,
        log_directory: logDir,
        labels: { app: name },
        annotations,
        // Own network namespace (POD): host-network pods crash containerd 2.1.9 in shim mode.
        linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
      };
    }

    async function createContainer(podId: string, config: object, name: string): Promise<string> {
      const res = await cri.runtime('CreateContainer', {
        pod_sandbox_id: podId,
        config: { metadata: { name, attempt: 0 }, image: { image: ECHO }, log_path: `${name}/0.log` },
        sandbox_config: config,
      });
      return res.container_id;
    }

    /** Nothing of any pod is left; the k8s.io namespace's daemon (shim.when_empty wait, the default) may wait for the next pod. */
    async function expectNothingLeft(): Promise<void> {
      expect(shimDaemons(ctd.shimSocketDir).length).toBeLessThanOrEqual(1);
      expect(micadInstances(stack!.sim.socketDir)).toEqual([]);
      expect(qemuChildren(stack!.sim.pid)).toEqual([]);
      expect(mountsUnder(ctd.dir)).toEqual([]);
      const records = path.join(stateDir, 'containers');
      expect(existsSync(records) ? readdirSync(records) : []).toEqual([]);
      expect((await cri.runtime('ListPodSandbox', {})).items).toEqual([]);
    }

    test('a netns pod of two RTOS containers: Sandbox service lifecycle, pod settings from the PodSandboxConfig, containerd restarted', async () => {
      const t0 = performance.now();
      // The firmware hash is checked for every container of the pod: it reaches them only by
      // inheritance from the sandbox, which got it only from CreateSandbox's options.
      const config = podConfig('sbx-pod', { 'org.openeuler.micrun.container.firmware_hash': `sha256:${echoSha256}`, 'example.com/other': 'x' });
      const { pod_sandbox_id: pod } = await cri.runtime('RunPodSandbox', { config, runtime_handler: HANDLER });
      expect(pod).toMatch(/^[0-9a-f]{64}$/);
      // No pause container: containerd made a sandbox bundle without config.json and ran `start` there.
      expect(existsSync(path.join(sandboxDir(pod), 'config.json'))).toBe(false);
      expect(readFileSync(path.join(sandboxDir(pod), 'address'), 'utf8')).toMatch(/^unix:\/\//);
      expect(existsSync(taskDir(pod))).toBe(false);
      const a = await createContainer(pod, config, 'fw-a');
      const b = await createContainer(pod, config, 'fw-b');
      await cri.runtime('StartContainer', { container_id: a });
      await cri.runtime('StartContainer', { container_id: b });
      measured[`podWith2ContainersRunning_${form}`] = Math.round(performance.now() - t0);
      for (const id of [a, b]) expect(await containerState(id)).toBe('CONTAINER_RUNNING');
      // One daemon serves the sandbox and both containers.
      const daemons = shimDaemons(ctd.shimSocketDir);
      expect(daemons).toHaveLength(1);
      expect(micadInstances(stack!.sim.socketDir).sort()).toEqual([`${a}.socket`, `${b}.socket`].sort());
      // Task API v2: containerd runs `start` for every container too (it writes <bundle>/address);
      // v3: containers are served over the sandbox's connection without a `start`.
      const startedPerContainer = [a, b].filter((id) => existsSync(path.join(taskDir(id), 'address'))).length;
      measured[`containerStarts_${form}`] = startedPerContainer;
      // The sandbox's record holds the pod settings from the options (our prefix only).
      const status = await podStatus(pod);
      expect(status.state).toBe('SANDBOX_READY');
      expect(status.network.ip).toMatch(/^10\.231\.7\.\d+$/); // CNI gave the pod an address in our netns
      const logFile = path.join(logRoot, 'sbx-pod', 'fw-a', '0.log');
      await waitFor(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes(BANNER), { what: `${BANNER} in ${logFile}`, timeoutMs: 30_000 });

      // containerd restarted under the running pod: it finds the sandbox again (SandboxStatus,
      // WaitSandbox) and the containers keep running in the same daemon.
      const logMark = ctd.log().length; // the restarted containerd appends to the same log
      await ctd.stop();
      ctd = await startContainerd(ctdOptions);
      stack!.ctd = ctd; // destroy() takes down the new one
      cri.close();
      cri = connectCri(ctd.address);
      await waitFor(async () => (await podStatus(pod).catch(() => undefined))?.state === 'SANDBOX_READY', {
        what: 'pod READY after containerd restart',
        timeoutMs: 30_000,
        intervalMs: 300,
      });
      for (const id of [a, b]) expect(await containerState(id)).toBe('CONTAINER_RUNNING');
      expect(shimDaemons(ctd.shimSocketDir)).toEqual(daemons);

      // StopPodSandbox: StopSandbox (timeout 0) stops the pod's containers; WaitSandbox returns.
      await cri.runtime('StopPodSandbox', { pod_sandbox_id: pod });
      expect((await podStatus(pod)).state).toBe('SANDBOX_NOTREADY');
      for (const id of [a, b]) expect(await containerState(id)).toBe('CONTAINER_EXITED');
      // The CRI's sandbox monitor logs this when its WaitSandbox returns: the restarted
      // containerd had called WaitSandbox again, and it was pending until the pod stopped.
      expect(ctd.log().slice(logMark)).toContain(`received sandbox container exit event sandbox_id:\\"${pod}\\"`);
      // RemovePodSandbox: ShutdownSandbox; the namespace's daemon (grouping namespace, when_empty
      // wait: the defaults) then waits, serving nothing, for the namespace's next pod.
      await cri.runtime('RemovePodSandbox', { pod_sandbox_id: pod });
      await new Promise((r) => setTimeout(r, 500));
      expect(isAlive(daemons[0]!)).toBe(true);
      await expectNothingLeft();
    }, 300_000);

    test('pod settings from the PodSandboxConfig are validated and inherited: a wrong pod firmware hash fails the container, a bad key fails the pod', async () => {
      const wrong = podConfig('sbx-wrong', { 'org.openeuler.micrun.container.firmware_hash': `sha256:${'0'.repeat(64)}` });
      const { pod_sandbox_id: pod } = await cri.runtime('RunPodSandbox', { config: wrong, runtime_handler: HANDLER });
      const failed = await cri.runtime('CreateContainer', {
        pod_sandbox_id: pod,
        config: { metadata: { name: 'fw', attempt: 0 }, image: { image: ECHO }, log_path: 'fw/0.log' },
        sandbox_config: wrong,
      }).then(
        () => undefined,
        (err: unknown) => err,
      );
      // containerd 2.x creates the task at StartContainer; 1.x-style Create may fail earlier.
      let error = failed as CriError | undefined;
      if (!error) {
        const [container] = (await cri.runtime('ListContainers', {})).containers;
        error = await cri.runtime('StartContainer', { container_id: container.id }).then(() => undefined, (err: CriError) => err);
        await cri.runtime('RemoveContainer', { container_id: container.id });
      }
      expect(error).toBeInstanceOf(CriError);
      expect(error!.details).toMatch(/sha256|hash/i);
      await cri.runtime('StopPodSandbox', { pod_sandbox_id: pod });
      await cri.runtime('RemovePodSandbox', { pod_sandbox_id: pod });

      const bad = podConfig('sbx-bad', { 'org.openeuler.micrun.ped.pedestal': 'vmware' });
      const refused = await cri.runtime('RunPodSandbox', { config: bad, runtime_handler: HANDLER }).then(() => undefined, (err: CriError) => err);
      expect(refused).toBeInstanceOf(CriError);
      expect(refused!.details).toContain('org.openeuler.micrun.ped.pedestal');
      expect(refused!.code).toBe(GRPC_INVALID_ARGUMENT);
      // containerd then calls ShutdownSandbox for the sandbox that never was: nothing of it stays.
      await expectNothingLeft();
    }, 240_000);
  });
}
