// What kubelet waits for, through containerd 1.6's CRI plugin over gRPC, micrun next to runc in
// the same containerd (the shipped configs/containerd-1.6-1.7.toml, host-network pods, no CNI):
//   pod     RunPodSandbox → CreateContainer ×2 → StartContainer ×2 (both RUNNING): micrun pods of
//           two echo firmware containers vs runc pods of two busybox `sleep` containers; every
//           pod is removed before the next
//   memory  N single-container pods per runtime, all running: total RSS of every shim process
//           of the k8s.io namespace (micrun's daemons; one containerd-shim-runc-v2 per runc pod)
// The pause image is busybox `sleep` (runc runs it; micrun never starts a pause container).
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, startContainerd, type Containerd } from '../../test/e2e/harness/containerd';
import { connectCri, hostNetworkPod, type CriClient } from '../../test/e2e/harness/cri';
import { waitFor } from '../../test/e2e/harness/processes';
import { shimMemory, type ShimMemory } from './ctr-bench';
import { ratio, summarize, timed, type Summary } from './summary';

const NS = 'k8s.io';
export const PAUSE = 'registry.k8s.io/pause:micrun-bench';

export interface CriBenchImages {
  echo: string;
  busybox: string;
}

export interface CriBenchResult {
  pod: { micrun: Summary; runc: Summary; ratio: number };
  memory: { pods: number } & ShimMemory;
}

type Runtime = 'micrun' | 'runc';

export async function startCriContainerd(work: string, env: NodeJS.ProcessEnv): Promise<Containerd> {
  const cni = path.join(work, 'cni');
  mkdirSync(path.join(cni, 'net.d'), { recursive: true });
  mkdirSync(path.join(cni, 'bin'), { recursive: true });
  const shipped = readFileSync(path.join(repoRoot, 'configs', 'containerd-1.6-1.7.toml'), 'utf8');
  // As test/e2e/cri.test.ts: this machine's oom_score_adj setting makes runc fail its pause
  // container unless the CRI plugin restricts oom_score_adj.
  const config = shipped
    .replace(/^version = 2$/m, '')
    .replace(/^(\s*sandbox_image = ).*$/m, `$1"${PAUSE}"`)
    .replace(/^\s*# restrict_oom_score_adj = true$/m, '  restrict_oom_score_adj = true');
  return startContainerd({
    cri: true,
    env,
    extraConfig: [config, '[plugins."io.containerd.grpc.v1.cri".cni]', `  bin_dir = "${cni}/bin"`, `  conf_dir = "${cni}/net.d"`].join('\n'),
  });
}

export async function benchCri(ctd: Containerd, images: CriBenchImages, work: string, runs: number, pods: number): Promise<CriBenchResult> {
  const cri = connectCri(ctd.address);
  try {
    await waitFor(
      async () => {
        for (const image of [PAUSE, images.echo, images.busybox]) if (!(await cri.image('ImageStatus', { image: { image } })).image) return false;
        return true;
      },
      { what: 'CRI to know the imported images', timeoutMs: 30_000, intervalMs: 200 },
    );
    const samples: Record<Runtime, number[]> = { micrun: [], runc: [] };
    for (let i = 0; i < runs; i++) {
      for (const runtime of ['micrun', 'runc'] as const) {
        const { ms, value: pod } = await timed(() => runPod(cri, images, work, runtime, `bench-${runtime}-${i}`, 2));
        samples[runtime].push(ms);
        await removePod(cri, pod);
      }
    }
    const micrun = summarize(samples.micrun);
    const runc = summarize(samples.runc);
    const running: string[] = [];
    let memory: ShimMemory;
    try {
      for (let i = 0; i < pods; i++) {
        for (const runtime of ['micrun', 'runc'] as const) running.push(await runPod(cri, images, work, runtime, `mem-${runtime}-${i}`, 1));
      }
      memory = await shimMemory(ctd, NS);
    } finally {
      for (const pod of running) await removePod(cri, pod).catch(() => {});
    }
    return { pod: { micrun, runc, ratio: ratio(micrun.median, runc.median) }, memory: { pods, ...memory } };
  } finally {
    cri.close();
  }
}

/** kubelet's steps for a pod of `containers` containers, until all are RUNNING; the pod id. */
async function runPod(cri: CriClient, images: CriBenchImages, work: string, runtime: Runtime, name: string, containers: number): Promise<string> {
  const logDirectory = path.join(work, 'pods', name);
  mkdirSync(logDirectory, { recursive: true });
  const config = hostNetworkPod({ name, uid: `uid-${name}`, logDirectory });
  const { pod_sandbox_id: pod } = await cri.runtime('RunPodSandbox', { config, runtime_handler: runtime });
  const image = runtime === 'micrun' ? images.echo : images.busybox;
  const command = runtime === 'runc' ? ['/bin/busybox', 'sleep', '600'] : [];
  const ids: string[] = [];
  for (let c = 0; c < containers; c++) {
    const res = await cri.runtime('CreateContainer', {
      pod_sandbox_id: pod,
      config: { metadata: { name: `c${c}`, attempt: 0 }, image: { image }, command, log_path: `c${c}.log` },
      sandbox_config: config,
    });
    ids.push(res.container_id);
  }
  for (const id of ids) await cri.runtime('StartContainer', { container_id: id });
  for (const id of ids) {
    const state = (await cri.runtime('ContainerStatus', { container_id: id })).status.state;
    if (state !== 'CONTAINER_RUNNING') throw new Error(`${runtime} pod ${name}: container ${id} is ${state}`);
  }
  return pod;
}

async function removePod(cri: CriClient, pod: string): Promise<void> {
  await cri.runtime('StopPodSandbox', { pod_sandbox_id: pod });
  await cri.runtime('RemovePodSandbox', { pod_sandbox_id: pod });
}
