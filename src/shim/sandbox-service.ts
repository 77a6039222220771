// containerd.runtime.sandbox.v1.Sandbox over the runtime, on the same daemon socket as the Task
// service. containerd 2.x calls it when a runtime is configured with `sandboxer = "shim"` (1.7
// only in its experimental sandbox mode; 1.6 never): the pod then has no pause container, and the
// sandbox this service creates plays its part. In the runtime a sandbox IS the pod's infra
// container (Runtime.createSandbox), so stopping it stops every container of the pod, deleting it
// removes them, and pod annotations are inherited — the same code paths as a CRI pause container,
// whose id this service also answers for.
//
// Each method decodes its request, calls the runtime and encodes the reply; nothing else.
import { constants } from 'node:os';
import { deadlineExceeded, invalidArgument, notFound } from '../errors';
import { containerd, io, packAny, toTimestamp } from '../proto';
import type { Container, ContainerState } from '../runtime/container';
import type { Runtime } from '../runtime/runtime';
import type { Handler } from '../ttrpc';
import { podSandboxAnnotations } from './pod-sandbox-options';
import { unary } from './unary';

export const SANDBOX_SERVICE = 'containerd.runtime.sandbox.v1.Sandbox';

export type SandboxMethod =
  | 'CreateSandbox' | 'StartSandbox' | 'Platform' | 'StopSandbox' | 'WaitSandbox' | 'SandboxStatus'
  | 'PingSandbox' | 'ShutdownSandbox' | 'SandboxMetrics';
export type SandboxService = Record<SandboxMethod, Handler>;

export interface SandboxServiceDeps {
  runtime: Runtime;
  shimPid: number;
  /** Called after ShutdownSandbox has replied, when the daemon serves nothing any more. */
  requestShutdown(): void;
  /** Host platform for Platform (default: this process's, in containerd's names). */
  platform?: { os: string; architecture: string; variant?: string };
}

const S = containerd.runtime.sandbox.v1;
const { SIGTERM, SIGKILL } = constants.signals;
/** CRI's words for a sandbox's state (SandboxStatusResponse.state is a free string). */
const STATE: Record<ContainerState, string> = {
  created: 'SANDBOX_NOTREADY',
  running: 'SANDBOX_READY',
  paused: 'SANDBOX_READY',
  stopped: 'SANDBOX_NOTREADY',
};

export function createSandboxService(deps: SandboxServiceDeps): SandboxService {
  const { runtime } = deps;
  /** The pod sandbox `id`; an app container's id is not a sandbox. */
  const sandboxOf = (id: string): Container => {
    if (!id) throw invalidArgument('sandbox_id is empty');
    const c = runtime.containers.find(id);
    if (!c || c.kind !== 'infra') {
      throw notFound(`sandbox ${id} not found in this shim${c ? ` (${id} is a container of pod ${c.record.sandboxId ?? id})` : ''}`);
    }
    return c;
  };

  return {
    CreateSandbox: unary(S.CreateSandboxRequest, S.CreateSandboxResponse, async (req) => {
      if (!req.sandboxId) throw invalidArgument('CreateSandbox: sandbox_id is empty');
      if (!req.bundlePath) throw invalidArgument(`CreateSandbox ${req.sandboxId}: bundle_path is empty`);
      const annotations = podSandboxAnnotations(req.options, req.annotations ?? {});
      await runtime.createSandbox({ id: req.sandboxId, bundle: req.bundlePath, annotations });
      return {};
    }),

    StartSandbox: unary(S.StartSandboxRequest, S.StartSandboxResponse, async (req) => {
      sandboxOf(req.sandboxId);
      const { container } = await runtime.start(req.sandboxId);
      return { pid: container.pid, createdAt: toTimestamp(new Date(container.record.createdAt)) };
    }),

    Platform: unary(S.PlatformRequest, S.PlatformResponse, async (req) => {
      sandboxOf(req.sandboxId);
      return { platform: deps.platform ?? hostPlatform() };
    }),

    // Graceful first: the pod's containers get SIGTERM and `timeout_secs` to stop; whatever is
    // still running then is killed with the sandbox (SIGKILL). timeout_secs 0 = no grace period.
    // Stopping a stopped sandbox succeeds (containerd retries StopSandbox).
    StopSandbox: unary(S.StopSandboxRequest, S.StopSandboxResponse, async (req) => {
      const sandbox = sandboxOf(req.sandboxId);
      const stopped = () => sandbox.state === 'stopped'; // re-read after each await
      if (stopped()) return {};
      if (req.timeoutSecs > 0) await withDeadline(runtime.stopPod(req.sandboxId, SIGTERM), req.timeoutSecs * 1000).catch(() => {});
      if (!stopped()) await runtime.kill(req.sandboxId, SIGKILL);
      return {};
    }),

    WaitSandbox: unary(S.WaitSandboxRequest, S.WaitSandboxResponse, async (req, ctx) => {
      sandboxOf(req.sandboxId);
      const exit = await runtime.wait(req.sandboxId, ctx.signal);
      return { exitStatus: exit.exitStatus, exitedAt: toTimestamp(exit.exitedAt) };
    }),

    SandboxStatus: unary(S.SandboxStatusRequest, S.SandboxStatusResponse, async (req) => {
      const sandbox = sandboxOf(req.sandboxId);
      const exit = sandbox.exitInfo;
      return {
        sandboxId: sandbox.id,
        pid: sandbox.pid,
        state: STATE[sandbox.state],
        info: (req.verbose ? { info: JSON.stringify(verboseInfo(runtime, sandbox, deps.shimPid)) } : {}) as Record<string, string>,
        createdAt: toTimestamp(new Date(sandbox.record.createdAt)),
        ...(exit ? { exitedAt: toTimestamp(exit.exitedAt) } : {}),
      };
    }),

    PingSandbox: unary(S.PingRequest, S.PingResponse, async (req) => {
      sandboxOf(req.sandboxId);
      return {};
    }),

    // Stops and removes the sandbox and every container of its pod; the daemon exits once it
    // serves nothing else (containerd deletes the shim instance next).
    // A sandbox this daemon never created (its CreateSandbox failed: containerd 2.x still calls
    // ShutdownSandbox to clean up) has nothing to stop: success, and a daemon that serves nothing
    // exits — otherwise every refused pod would leave an idle daemon behind.
    ShutdownSandbox: unary(S.ShutdownSandboxRequest, S.ShutdownSandboxResponse, async (req) => {
      if (req.sandboxId && runtime.containers.find(req.sandboxId) === undefined) {
        if (runtime.containers.size === 0) setImmediate(() => deps.requestShutdown());
        return {};
      }
      const sandbox = sandboxOf(req.sandboxId);
      if (sandbox.state !== 'stopped') await runtime.kill(req.sandboxId, SIGKILL);
      await runtime.delete(req.sandboxId);
      if (runtime.isIdle()) setImmediate(() => deps.requestShutdown());
      return {};
    }),

    // The pod's usage: the sum over its running containers (the sandbox itself uses nothing).
    SandboxMetrics: unary(S.SandboxMetricsRequest, S.SandboxMetricsResponse, async (req) => {
      sandboxOf(req.sandboxId);
      let cpu = 0;
      let memory = 0;
      for (const c of runtime.podMembers(req.sandboxId)) {
        if (c.state !== 'running' && c.state !== 'paused') continue;
        const usage = await runtime.stats(c.id).catch(() => undefined); // no usage from micad: count 0
        cpu += usage?.cpuTimeNs ?? 0;
        memory += usage?.memoryBytes ?? 0;
      }
      const metrics = io.containerd.cgroups.v1.Metrics.encode({
        cpu: { usage: { total: cpu, user: cpu } },
        memory: { usage: { usage: memory } },
      }).finish();
      return {
        metrics: { timestamp: toTimestamp(new Date()), id: req.sandboxId, data: packAny('io.containerd.cgroups.v1.Metrics', metrics) },
      };
    }),
  } satisfies SandboxService;
}

/** SandboxStatus verbose info: what an operator debugging a pod wants in one JSON object. */
function verboseInfo(runtime: Runtime, sandbox: Container, shimPid: number): object {
  return {
    sandboxId: sandbox.id,
    state: sandbox.state,
    shimPid,
    namespace: sandbox.record.namespace,
    bundle: sandbox.record.bundle,
    createdAt: sandbox.record.createdAt,
    ...(sandbox.exitInfo ? { exitStatus: sandbox.exitInfo.exitStatus, exitedAt: sandbox.exitInfo.exitedAt.toISOString() } : {}),
    containers: runtime.podMembers(sandbox.id).map((c) => ({
      id: c.id,
      state: c.state,
      instance: c.instance,
      createdAt: c.record.createdAt,
      ...(c.exitInfo ? { exitStatus: c.exitInfo.exitStatus } : {}),
    })),
  };
}

/** containerd's platform names for this host. */
function hostPlatform(): { os: string; architecture: string } {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', riscv64: 'riscv64', ppc64: 'ppc64le', s390x: 's390x' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(deadlineExceeded(`graceful stop did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

