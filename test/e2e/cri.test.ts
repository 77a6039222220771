// Kubernetes without a kubelet: a private containerd 1.6 with its CRI plugin and a `micrun`
// runtime handler, driven over CRI gRPC by our client (harness/cri.ts) exactly as kubelet drives
// a pod: RunPodSandbox (host network), CreateContainer ×2 with `micrun image build` images and no
// command, StartContainer, ContainerStatus, the CRI log file, ExecSync, UpdateContainerResources,
// StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox — with micad-sim running the
// firmware in qemu-system-arm. Afterwards nothing may be left: no shim daemon, micad instance,
// QEMU, mount or socket. Also measures pod start time and the daemon's RSS (1 and 5 containers).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createMicaClient } from '../../src/mica/client';
import type { MicaClient } from '../../src/mica/types';
import { connectCri, CriError, hostNetworkPod, type CriClient } from './harness/cri';
import { repoRoot, type Containerd } from './harness/containerd';
import { micadInstances, mountsUnder, qemuChildren as leftoverQemu, shimDaemons as leftoverShimDaemons } from './harness/leftovers';
import type { MicadSim } from './harness/micad-sim';
import { startMicrunStack, type MicrunStack } from './harness/micrun-stack';
import { isAlive, waitFor } from './harness/processes';

const NS = 'k8s.io';
const PAUSE = 'registry.k8s.io/pause:micrun-e2e';
const ECHO = 'docker.io/micrun-test/echo:cri';
const BANNER = 'micrun echo firmware ready';
const MiB = 1024 * 1024;
const GRPC_UNIMPLEMENTED = 12;

const work = mkdtempSync(path.join(tmpdir(), 'micrun-cri-'));
const stateDir = path.join(work, 'state');
const logRoot = path.join(work, 'pods');
let stack: MicrunStack | undefined;
let sim: MicadSim;
let ctd: Containerd;
let cri: CriClient;
let mica: MicaClient;

/**
 * The shipped containerd 1.6/1.7 snippet (configs/containerd-1.6-1.7.toml), so the file admins
 * copy is the one tested, with this test's pause image, this machine's oom_score_adj setting and
 * an empty CNI dir (host-network pods need no CNI).
 */
function criConfig(): string {
  const cniConf = path.join(work, 'cni', 'net.d');
  const cniBin = path.join(work, 'cni', 'bin');
  mkdirSync(cniConf, { recursive: true });
  mkdirSync(cniBin, { recursive: true });
  const shipped = readFileSync(path.join(repoRoot, 'configs', 'containerd-1.6-1.7.toml'), 'utf8');
  const config = shipped
    .replace(/^version = 2$/m, '') // the harness writes the header
    .replace(/^(\s*sandbox_image = ).*$/m, `$1"${PAUSE}"`)
    .replace(/^\s*# restrict_oom_score_adj = true$/m, '  restrict_oom_score_adj = true');
  expect(config).toContain(`sandbox_image = "${PAUSE}"`);
  expect(config).toMatch(/^\s+restrict_oom_score_adj = true$/m);
  return [
    config,
    '[plugins."io.containerd.grpc.v1.cri".cni]',
    `  bin_dir = "${cniBin}"`,
    `  conf_dir = "${cniConf}"`,
  ].join('\n');
}

beforeAll(async () => {
  stack = await startMicrunStack({
    stateDir,
    containerd: { cri: true, extraConfig: criConfig() },
    namespace: NS,
    // The pause image is never started by micrun: any ELF makes a valid image of it.
    images: [['/bin/busybox', PAUSE], ['echo', ECHO]],
  });
  ({ sim, ctd } = stack);
  cri = connectCri(ctd.address);
  mica = createMicaClient({ socketDir: sim.socketDir, timeoutMs: 5_000 });
  // CRI learns about imported images from containerd's image events: wait until it sees both.
  await waitFor(
    async () => {
      for (const image of [PAUSE, ECHO]) if (!(await cri.image('ImageStatus', { image: { image } })).image) return false;
      return true;
    },
    { what: 'CRI to know the imported images', timeoutMs: 20_000, intervalMs: 200 },
  );
}, 120_000);

afterAll(async () => {
  cri?.close();
  await stack?.destroy();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

// ---------------------------------------------------------------------------------------------
// What is left on the machine

/** micad-sim's instances (their per-instance sockets). */
const instances = () => micadInstances(sim.socketDir);
/** PIDs of shim daemons serving this containerd. */
const shimDaemons = () => leftoverShimDaemons(ctd.shimSocketDir);
/** QEMU processes micad-sim started (its children). */
const qemuChildren = () => leftoverQemu(sim.pid);
const shimSockets = () => {
  try {
    return readdirSync(ctd.shimSocketDir);
  } catch {
    return [];
  }
};

async function expectNothingLeft(): Promise<void> {
  await waitFor(() => shimDaemons().length === 0, { what: 'no shim daemon', timeoutMs: 15_000 });
  expect(instances()).toEqual([]);
  expect(qemuChildren()).toEqual([]);
  expect(shimSockets()).toEqual([]);
  expect(mountsUnder(ctd.dir)).toEqual([]);
  const containers = path.join(stateDir, 'containers');
  expect(readdirSync(containers, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)).toEqual([]);
}

/** micad-sim's `info` (raw: MicaClient.info drops the recorded `set` values we check here). */
function simInfo(instance: string): Promise<{ state: string; resources: Record<string, string | number> }> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path.join(sim.socketDir, `${instance}.socket`));
    let text = '';
    sock.on('connect', () => sock.write(Buffer.concat([Buffer.from('info'), Buffer.alloc(28)])));
    sock.on('data', (d) => {
      text += d.toString();
      if (text.includes('MICA-SUCCESS')) {
        sock.destroy();
        resolve(JSON.parse(text.slice(0, text.indexOf('MICA-SUCCESS'))));
      } else if (text.includes('MICA-FAILED')) {
        sock.destroy();
        reject(new Error(`info ${instance}: ${text}`));
      }
    });
    sock.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// kubelet's steps

interface Pod {
  id: string;
  config: object;
  logDir: string;
}

async function runPod(name: string, annotations: Record<string, string> = {}): Promise<Pod> {
  const logDir = path.join(logRoot, name);
  mkdirSync(logDir, { recursive: true });
  const config = hostNetworkPod({ name, uid: `uid-${name}`, logDirectory: logDir, annotations });
  const res = await cri.runtime('RunPodSandbox', { config, runtime_handler: 'micrun' });
  expect(res.pod_sandbox_id).toMatch(/^[0-9a-f]{64}$/);
  return { id: res.pod_sandbox_id, config, logDir };
}

async function createContainer(pod: Pod, name: string, linux: object = {}, annotations: Record<string, string> = {}): Promise<string> {
  const res = await cri.runtime('CreateContainer', {
    pod_sandbox_id: pod.id,
    config: {
      metadata: { name, attempt: 0 },
      image: { image: ECHO },
      // No command and no args: the image's Entrypoint ["/firmware.elf"] is enough.
      log_path: `${name}/0.log`,
      annotations,
      linux: { resources: linux },
    },
    sandbox_config: pod.config,
  });
  expect(res.container_id).toMatch(/^[0-9a-f]{64}$/);
  return res.container_id;
}

const containerStatus = async (id: string) => (await cri.runtime('ContainerStatus', { container_id: id })).status;

async function criFailure(p: Promise<unknown>): Promise<CriError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CriError) return err;
    throw err;
  }
  throw new Error('expected the CRI call to fail');
}

describe('CRI (containerd 1.6) → micrun pod → micad-sim', () => {
  test('a pod of two RTOS containers, end to end, leaves nothing behind', async () => {
    const pod = await runPod('rtos-pod', { 'org.openeuler.micrun.container.min_memory_mb': '40' });
    const a = await createContainer(pod, 'fw-a', { cpuset_cpus: '0' });
    const b = await createContainer(pod, 'fw-b');
    await cri.runtime('StartContainer', { container_id: a });
    await cri.runtime('StartContainer', { container_id: b });
    for (const id of [a, b]) expect((await containerStatus(id)).state).toBe('CONTAINER_RUNNING');

    // One daemon serves the pause container and both containers.
    const daemons = shimDaemons();
    expect(daemons).toHaveLength(1);
    const daemon = daemons[0]!;
    expect(instances().sort()).toEqual([a, b].map((id) => `${id}.socket`).sort());
    expect(qemuChildren()).toHaveLength(2);

    // containerd passed the pod annotation to the runtime (pod_annotations in the config).
    const sandboxSpec = JSON.parse(readFileSync(path.join(ctd.state, 'io.containerd.runtime.v2.task', NS, pod.id, 'config.json'), 'utf8'));
    expect(sandboxSpec.annotations['org.openeuler.micrun.container.min_memory_mb']).toBe('40');
    expect(sandboxSpec.annotations['io.kubernetes.cri.container-type']).toBe('sandbox');

    // The sandbox is READY and its status carries the shim's pid.
    const sandbox = await cri.runtime('PodSandboxStatus', { pod_sandbox_id: pod.id, verbose: true });
    expect(sandbox.status.state).toBe('SANDBOX_READY');
    expect(JSON.parse(sandbox.info.info).pid).toBe(daemon);

    // The CRI log file holds the console output.
    const logFile = path.join(pod.logDir, 'fw-a', '0.log');
    await waitFor(() => { try { return readFileSync(logFile, 'utf8').includes(BANNER); } catch { return false; } }, { what: `${BANNER} in ${logFile}`, timeoutMs: 20_000 });
    expect(readFileSync(logFile, 'utf8')).toMatch(new RegExp(`^\\S+ stdout [PF] .*${BANNER}`, 'm'));

    // ExecSync: an RTOS has no processes; the error says so with the gRPC code kubelet understands.
    const exec = await criFailure(cri.runtime('ExecSync', { container_id: a, cmd: ['/bin/sh', '-c', 'true'], timeout: 5 }));
    expect(exec.code).toBe(GRPC_UNIMPLEMENTED);
    expect(exec.details).toMatch(/exec is not supported for micrun/);

    // Resources: the cpuset of CreateContainer reached micad's create message; an update reaches `set`.
    expect((await mica.status(a)).cpus).toBe('0');
    await cri.runtime('UpdateContainerResources', { container_id: a, linux: { cpuset_cpus: '1', memory_limit_in_bytes: 64 * MiB } });
    expect((await mica.status(a)).cpus).toBe('1');
    expect((await simInfo(a)).resources).toMatchObject({ cpu: '1', memory: 64, maxmemory: 64 });
    expect((await simInfo(b)).resources).toEqual({});

    // Stopping and removing one container leaves the other and the daemon running.
    await cri.runtime('StopContainer', { container_id: a, timeout: 10 });
    const stopped = await containerStatus(a);
    expect(stopped.state).toBe('CONTAINER_EXITED');
    expect(stopped.exit_code).toBe(143); // SIGTERM
    await cri.runtime('RemoveContainer', { container_id: a });
    await waitFor(() => !instances().includes(`${a}.socket`), { what: `instance ${a} removed`, timeoutMs: 10_000 });
    expect((await containerStatus(b)).state).toBe('CONTAINER_RUNNING');
    expect(shimDaemons()).toEqual([daemon]);
    expect((await mica.status(b)).state).toBe('Running');

    // Stop and remove the pod: the remaining container goes with it, then the daemon.
    await cri.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    expect((await cri.runtime('PodSandboxStatus', { pod_sandbox_id: pod.id })).status.state).toBe('SANDBOX_NOTREADY');
    expect((await containerStatus(b)).state).toBe('CONTAINER_EXITED');
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
    expect((await cri.runtime('ListPodSandbox', {})).items).toEqual([]);
    expect((await cri.runtime('ListContainers', {})).containers).toEqual([]);
    await waitFor(() => !isAlive(daemon), { what: `shim daemon ${daemon} to exit after the last container`, timeoutMs: 10_000 });
    await expectNothingLeft();
  }, 180_000);

  // Its time and the daemon's RSS are figures of `npm run bench` (rows "ctr run -d … live pod
  // daemon" and "daemon RSS with 1 / 10 / 50 containers"), not bounds of a test.
  test('one daemon serves a pod of 5 containers; StopPodSandbox alone stops them all', async () => {
    const pod = await runPod('rss-pod');
    const first = await createContainer(pod, 'fw-0');
    await cri.runtime('StartContainer', { container_id: first });
    expect((await containerStatus(first)).state).toBe('CONTAINER_RUNNING');
    const daemons = shimDaemons();
    expect(daemons).toHaveLength(1);
    const daemon = daemons[0];

    const more: string[] = [];
    for (let i = 1; i < 5; i++) {
      const id = await createContainer(pod, `fw-${i}`);
      await cri.runtime('StartContainer', { container_id: id });
      more.push(id);
    }
    for (const id of more) expect((await containerStatus(id)).state).toBe('CONTAINER_RUNNING');
    expect(shimDaemons()).toEqual([daemon]);
    expect(instances()).toHaveLength(5);

    // StopPodSandbox alone (no StopContainer first) stops all five.
    await cri.runtime('StopPodSandbox', { pod_sandbox_id: pod.id });
    for (const id of [first, ...more]) expect((await containerStatus(id)).state).toBe('CONTAINER_EXITED');
    await cri.runtime('RemovePodSandbox', { pod_sandbox_id: pod.id });
    await expectNothingLeft();
  }, 240_000);
});
