// The Sandbox service (containerd.runtime.sandbox.v1) and the pod behaviour of the Task service,
// driven through our ttrpc client against a ttrpc server on a temp socket: real Runtime, state
// store, bundles and firmware lookup; fakes only for micad, stdio and the event sink.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { containerd, google, io, runtime as cri } from '../../src/proto';
import type { Runtime } from '../../src/runtime/runtime';
import { newTestRuntime } from '../runtime/test-runtime';
import { createSandboxService, SANDBOX_SERVICE } from '../../src/shim/sandbox-service';
import { createTaskService, exitHandler, TASK_SERVICE, type TaskEventType, type TaskIOHandle } from '../../src/shim/task-service';
import { TtrpcClient, TtrpcServer } from '../../src/ttrpc';
import { FakeMica } from '../runtime/fake-mica';

const S = containerd.runtime.sandbox.v1;
const T = containerd.task.v2;
const SHIM_PID = 4242;
const POD = 'pod-1';
const CRI_TYPE = 'io.kubernetes.cri.container-type';
const CRI_SANDBOX = 'io.kubernetes.cri.sandbox-id';

/** micad whose `stop` of chosen instances never answers the first time (a hung graceful stop). */
class StuckStopMica extends FakeMica {
  readonly stuck = new Set<string>();
  override async stop(name: string): Promise<void> {
    if (this.stuck.delete(name)) {
      this.calls.push(`stop ${name} (hung)`);
      return new Promise(() => {});
    }
    return super.stop(name);
  }
}

/** Ids whose stdio the shim closed. */
let ioClosed: string[];
const fakeIO = (id: string): TaskIOHandle => ({ attach: async () => {}, resize() {}, closeStdin() {}, close: async () => void ioClosed.push(id) });

let dir: string;
let mica: StuckStopMica;
let runtime: Runtime;
let server: TtrpcServer;
let client: TtrpcClient;
let events: { type: TaskEventType; event: any }[];
let shutdowns: number;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-sbx-'));
  mica = new StuckStopMica();
  events = [];
  shutdowns = 0;
  ioClosed = [];
  const ios = new Map<string, TaskIOHandle>();
  const sink = { publish: (type: TaskEventType, event: object) => void events.push({ type, event }) };
  const stateDir = path.join(dir, 'state');
  runtime = newTestRuntime({ mica, stateDir, pid: SHIM_PID, onExit: exitHandler(ios, sink), namespace: 'k8s.io' });
  server = new TtrpcServer();
  const requestShutdown = () => void shutdowns++;
  server.register(TASK_SERVICE, createTaskService({ runtime, ios, events: sink, shimPid: SHIM_PID, openIO: async (_stdio, id) => fakeIO(id), requestShutdown }));
  server.register(SANDBOX_SERVICE, createSandboxService({ runtime, shimPid: SHIM_PID, requestShutdown }));
  const socket = path.join(dir, 'shim.sock');
  await server.listen(socket);
  client = await TtrpcClient.connect(socket);
});

afterEach(async () => {
  client.close();
  await server.close(100);
  runtime.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Codec<M> {
  encode(m: M): { finish(): Uint8Array };
  decode(b: Uint8Array): M;
}

async function rpc<Req, Res>(service: string, method: string, reqType: Codec<Req>, req: Req, resType: Codec<Res>, timeoutMs = 10_000): Promise<Res> {
  return resType.decode(await client.call(service, method, reqType.encode(req).finish(), { timeoutMs }));
}
const sbx = <Req, Res>(method: string, reqType: Codec<Req>, req: Req, resType: Codec<Res>) => rpc(SANDBOX_SERVICE, method, reqType, req, resType);
const task = <Req, Res>(method: string, reqType: Codec<Req>, req: Req, resType: Codec<Res>) => rpc(TASK_SERVICE, method, reqType, req, resType);

const createSandbox = (id: string, annotations: Record<string, string> = {}) =>
  sbx('CreateSandbox', S.CreateSandboxRequest, { sandboxId: id, bundlePath: path.join(dir, 'bundles', id), rootfs: [], netnsPath: '', annotations }, S.CreateSandboxResponse);
const startSandbox = (id: string) => sbx('StartSandbox', S.StartSandboxRequest, { sandboxId: id }, S.StartSandboxResponse);
const stopSandbox = (id: string, timeoutSecs: number) => sbx('StopSandbox', S.StopSandboxRequest, { sandboxId: id, timeoutSecs }, S.StopSandboxResponse);
const status = (id: string, verbose = false) => sbx('SandboxStatus', S.SandboxStatusRequest, { sandboxId: id, verbose }, S.SandboxStatusResponse);

/** A bundle whose rootfs (root.path) holds /firmware.elf. */
function bundle(id: string, annotations: Record<string, string>): string {
  const b = path.join(dir, 'bundles', id);
  mkdirSync(path.join(b, 'rootfs'), { recursive: true });
  writeFileSync(path.join(b, 'rootfs', 'firmware.elf'), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(60)]));
  writeFileSync(
    path.join(b, 'config.json'),
    JSON.stringify({ ociVersion: '1.0.2', process: { args: ['/firmware.elf'], cwd: '/' }, root: { path: 'rootfs' }, annotations }),
  );
  return b;
}
const podContainer = (id: string, own: Record<string, string> = {}, pod = POD) => bundle(id, { [CRI_TYPE]: 'container', [CRI_SANDBOX]: pod, ...own });
const pauseContainer = (id: string, own: Record<string, string> = {}) => bundle(id, { [CRI_TYPE]: 'sandbox', [CRI_SANDBOX]: id, ...own });

async function runTask(id: string, b: string): Promise<void> {
  await task('Create', T.CreateTaskRequest, { id, bundle: b, stdin: '', stdout: '', stderr: '', terminal: false, rootfs: [] }, T.CreateTaskResponse);
  await task('Start', T.StartRequest, { id }, T.StartResponse);
}
const taskStatus = async (id: string) => (await task('State', T.StateRequest, { id }, T.StateResponse)).status;

async function failure(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    return { code: (err as { code: number }).code, message: (err as Error).message };
  }
  throw new Error('expected the call to fail');
}

describe('Sandbox service lifecycle over ttrpc', () => {
  test('create → start (pid, created_at) → status/ping/platform → stop → wait → shutdown leaves nothing', async () => {
    const before = Date.now();
    await createSandbox(POD, { 'org.openeuler.micrun.container.min_memory_mb': '48' });
    expect((await status(POD)).state).toBe('SANDBOX_NOTREADY');

    const started = await startSandbox(POD);
    expect(started.pid).toBe(SHIM_PID);
    const createdMs = Number(started.createdAt!.seconds) * 1000 + Math.floor((started.createdAt!.nanos ?? 0) / 1e6);
    expect(createdMs).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(createdMs).toBeLessThanOrEqual(Date.now());
    expect(mica.calls).toEqual([]); // a sandbox never reaches micad

    await sbx('PingSandbox', S.PingRequest, { sandboxId: POD }, S.PingResponse);
    const platform = (await sbx('Platform', S.PlatformRequest, { sandboxId: POD }, S.PlatformResponse)).platform!;
    expect(platform.os).toBe('linux');
    expect(platform.architecture).toBe(process.arch === 'x64' ? 'amd64' : process.arch);

    await runTask('fw-a', podContainer('fw-a'));
    await runTask('fw-b', podContainer('fw-b'));
    const ready = await status(POD, true);
    expect(ready.state).toBe('SANDBOX_READY');
    expect(ready.pid).toBe(SHIM_PID);
    const info = JSON.parse(ready.info!.info!);
    expect(info).toMatchObject({ sandboxId: POD, state: 'running', shimPid: SHIM_PID, namespace: 'k8s.io' });
    expect(info.containers.map((c: { id: string; state: string }) => `${c.id}:${c.state}`)).toEqual(['fw-a:running', 'fw-b:running']);
    expect((await status(POD, false)).info).toEqual({});

    const metrics = (await sbx('SandboxMetrics', S.SandboxMetricsRequest, { sandboxId: POD }, S.SandboxMetricsResponse)).metrics!;
    expect(metrics.id).toBe(POD);
    expect(metrics.data!.type_url).toBe('io.containerd.cgroups.v1.Metrics');
    const m = io.containerd.cgroups.v1.Metrics.decode(metrics.data!.value!);
    expect(Number(m.memory!.usage!.usage)).toBe(2 * 5678); // the fake reports 5678 bytes per instance
    expect(Number(m.cpu!.usage!.total)).toBe(2 * 1234);

    const waiting = sbx('WaitSandbox', S.WaitSandboxRequest, { sandboxId: POD }, S.WaitSandboxResponse);
    await stopSandbox(POD, 5);
    expect(await taskStatus('fw-a')).toBe(containerd.v1.types.Status.STOPPED);
    expect(await taskStatus('fw-b')).toBe(containerd.v1.types.Status.STOPPED);
    expect([...mica.instances.values()].map((i) => i.state)).toEqual(['Offline', 'Offline']);
    const exit = await waiting;
    expect(exit.exitStatus).toBe(137);
    expect(Number(exit.exitedAt!.seconds)).toBeGreaterThan(0);
    const stopped = await status(POD);
    expect(stopped.state).toBe('SANDBOX_NOTREADY');
    expect(Number(stopped.exitedAt!.seconds)).toBeGreaterThan(0);
    // Pod containers ended through the one exit path: containerd hears TaskExit for each.
    expect(events.filter((e) => e.type === 'TaskExit').map((e) => e.event.containerId).sort()).toEqual(['fw-a', 'fw-b', POD]);
    await stopSandbox(POD, 5); // again: still fine

    await sbx('ShutdownSandbox', S.ShutdownSandboxRequest, { sandboxId: POD }, S.ShutdownSandboxResponse);
    await new Promise((r) => setImmediate(r));
    expect(runtime.containers.size).toBe(0);
    expect(mica.instances.size).toBe(0);
    expect(shutdowns).toBe(1);
    expect((await failure(status(POD))).code).toBe(Code.NotFound);
  });

  test('StopSandbox honours timeout_secs: a hung graceful stop is abandoned, then the pod is killed', async () => {
    await createSandbox(POD);
    await startSandbox(POD);
    await runTask('fw-a', podContainer('fw-a'));
    mica.stuck.add('fw-a');
    const t0 = Date.now();
    await stopSandbox(POD, 1);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(950); // the graceful phase got its whole second (a lower bound load cannot break)
    expect(mica.calls.filter((c) => c.startsWith('stop fw-a'))).toEqual(['stop fw-a (hung)', 'stop fw-a']);
    expect(await taskStatus('fw-a')).toBe(containerd.v1.types.Status.STOPPED);
    expect((await status(POD)).state).toBe('SANDBOX_NOTREADY');
  });

  test('StopSandbox with timeout_secs 0 kills at once (no graceful phase)', async () => {
    await createSandbox(POD);
    await startSandbox(POD);
    await runTask('fw-a', podContainer('fw-a'));
    await stopSandbox(POD, 0);
    expect(mica.calls.filter((c) => c.startsWith('stop'))).toEqual(['stop fw-a']);
    const exit = events.find((e) => e.type === 'TaskExit' && e.event.containerId === 'fw-a');
    expect(exit?.event.exitStatus).toBe(137); // SIGKILL, not the SIGTERM of a graceful stop
  });

  test('pod containers inherit the sandbox\'s org.openeuler.micrun.* annotations; their own win', async () => {
    await createSandbox(POD, {
      'org.openeuler.micrun.container.min_memory_mb': '48',
      'org.openeuler.micrun.ped.pedestal': 'xen',
      'io.kubernetes.cri.sandbox-name': 'not ours, not inherited',
    });
    await startSandbox(POD);
    await runTask('fw-a', podContainer('fw-a'));
    await runTask('fw-b', podContainer('fw-b', { 'org.openeuler.micrun.ped.pedestal': 'jailhouse' }));
    expect(mica.instances.get('fw-a')!.params).toMatchObject({ memoryMiB: 48, pedestal: 'xen' });
    expect(mica.instances.get('fw-b')!.params).toMatchObject({ memoryMiB: 48, pedestal: 'jailhouse' });
  });
});

describe('Sandbox service: containerd 2.x sends the pod settings as a PodSandboxConfig', () => {
  const withConfig = (id: string, annotations: Record<string, string>) =>
    sbx(
      'CreateSandbox',
      S.CreateSandboxRequest,
      {
        sandboxId: id,
        bundlePath: path.join(dir, 'bundles', id),
        rootfs: [],
        netnsPath: '/var/run/netns/cni-1',
        options: {
          type_url: 'runtime.v1.PodSandboxConfig',
          value: cri.v1.PodSandboxConfig.encode({ metadata: { name: id, uid: 'u', namespace: 'default', attempt: 0 }, annotations }).finish(),
        },
      },
      S.CreateSandboxResponse,
    );

  test('no annotations field: the org.openeuler.micrun.* annotations of the options are inherited as on 1.6', async () => {
    await withConfig(POD, { 'org.openeuler.micrun.container.min_memory_mb': '40', 'org.openeuler.micrun.ped.pedestal': 'xen', 'kubernetes.io/x': 'y' });
    await startSandbox(POD);
    await runTask('fw-a', podContainer('fw-a'));
    expect(mica.instances.get('fw-a')!.params).toMatchObject({ memoryMiB: 40, pedestal: 'xen' });
  });

  test('a bad pod setting in the options is InvalidArgument naming it, and no sandbox is created', async () => {
    const bad = await failure(withConfig('pod-3', { 'org.openeuler.micrun.ped.pedestal': 'vmware' }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.message).toContain('org.openeuler.micrun.ped.pedestal');
    expect(runtime.containers.find('pod-3')).toBeUndefined();
  });
});

describe('Sandbox service errors', () => {
  test('unknown sandbox → NotFound; a container id is not a sandbox; empty id → InvalidArgument', async () => {
    expect((await failure(startSandbox('nope'))).code).toBe(Code.NotFound);
    expect((await failure(sbx('PingSandbox', S.PingRequest, { sandboxId: 'nope' }, S.PingResponse))).code).toBe(Code.NotFound);
    await createSandbox(POD);
    await runTask('fw-a', podContainer('fw-a'));
    const notSandbox = await failure(status('fw-a'));
    expect(notSandbox.code).toBe(Code.NotFound);
    expect(notSandbox.message).toContain(`fw-a is a container of pod ${POD}`);
    expect((await failure(status(''))).code).toBe(Code.InvalidArgument);
    expect((await failure(createSandbox(''))).code).toBe(Code.InvalidArgument);
  });

  test('ShutdownSandbox after a failed CreateSandbox succeeds and ends a daemon that serves nothing', async () => {
    expect((await failure(createSandbox('pod-bad', { 'org.openeuler.micrun.ped.pedestal': 'vmware' }))).code).toBe(Code.InvalidArgument);
    await sbx('ShutdownSandbox', S.ShutdownSandboxRequest, { sandboxId: 'pod-bad' }, S.ShutdownSandboxResponse);
    await new Promise((r) => setImmediate(r));
    expect(shutdowns).toBe(1);
  });

  test('ShutdownSandbox of an unknown id leaves a daemon that still serves a pod running', async () => {
    await createSandbox(POD);
    await sbx('ShutdownSandbox', S.ShutdownSandboxRequest, { sandboxId: 'never-created' }, S.ShutdownSandboxResponse);
    await new Promise((r) => setImmediate(r));
    expect(shutdowns).toBe(0);
    expect(runtime.containers.find(POD)).toBeDefined();
  });

  test('CreateSandbox twice → AlreadyExists; a bad pod annotation → InvalidArgument naming it, nothing created', async () => {
    await createSandbox(POD);
    expect((await failure(createSandbox(POD))).code).toBe(Code.AlreadyExists);
    const bad = await failure(createSandbox('pod-2', { 'org.openeuler.micrun.ped.pedestal': 'vmware' }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.message).toContain('org.openeuler.micrun.ped.pedestal');
    expect(runtime.containers.find('pod-2')).toBeUndefined();
  });

  test('starting a started sandbox → FailedPrecondition; unknown method → Unimplemented', async () => {
    await createSandbox(POD);
    await startSandbox(POD);
    expect((await failure(startSandbox(POD))).code).toBe(Code.FailedPrecondition);
    const unknown = await failure(client.call(SANDBOX_SERVICE, 'UpdateSandbox', new Uint8Array(), { timeoutMs: 2000 }));
    expect(unknown.code).toBe(Code.Unimplemented);
  });

  test('WaitSandbox blocks until the sandbox stops', async () => {
    await createSandbox(POD);
    await startSandbox(POD);
    let done = false;
    const waiting = sbx('WaitSandbox', S.WaitSandboxRequest, { sandboxId: POD }, S.WaitSandboxResponse).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    await stopSandbox(POD, 0);
    expect((await waiting).exitStatus).toBe(137);
  });
});

describe('pause container (CRI on containerd 1.6/1.7) through the Task service', () => {
  test('the pause container never reaches micad, runs with the shim pid, and Kill of it stops the whole pod', async () => {
    await runTask(POD, pauseContainer(POD));
    expect(mica.calls).toEqual([]);
    expect(await taskStatus(POD)).toBe(containerd.v1.types.Status.RUNNING);
    expect((await task('State', T.StateRequest, { id: POD }, T.StateResponse)).pid).toBe(SHIM_PID);
    await runTask('fw-a', podContainer('fw-a'));
    await runTask('fw-b', podContainer('fw-b'));
    await task('Kill', T.KillRequest, { id: POD, signal: 9 }, google.protobuf.Empty);
    expect(await taskStatus('fw-a')).toBe(containerd.v1.types.Status.STOPPED);
    expect(await taskStatus('fw-b')).toBe(containerd.v1.types.Status.STOPPED);
    expect(await taskStatus(POD)).toBe(containerd.v1.types.Status.STOPPED);
    // The pod's containers exit before the sandbox does.
    const exits = events.filter((e) => e.type === 'TaskExit').map((e) => e.event.containerId);
    expect(exits.at(-1)).toBe(POD);
    expect(exits.slice(0, 2).sort()).toEqual(['fw-a', 'fw-b']);
  });

  test('deleting one pod container leaves the others and the daemon; Delete of the pause container removes the rest', async () => {
    await runTask(POD, pauseContainer(POD));
    await runTask('fw-a', podContainer('fw-a'));
    await runTask('fw-b', podContainer('fw-b'));
    await task('Kill', T.KillRequest, { id: 'fw-a', signal: 15 }, google.protobuf.Empty);
    await task('Delete', T.DeleteRequest, { id: 'fw-a' }, T.DeleteResponse);
    await task('Shutdown', T.ShutdownRequest, { id: 'fw-a', now: false }, google.protobuf.Empty);
    await new Promise((r) => setImmediate(r));
    expect(shutdowns).toBe(0);
    expect(await taskStatus('fw-b')).toBe(containerd.v1.types.Status.RUNNING);
    expect(mica.instances.get('fw-b')!.state).toBe('Running');

    await task('Kill', T.KillRequest, { id: POD, signal: 9 }, google.protobuf.Empty);
    await task('Delete', T.DeleteRequest, { id: POD }, T.DeleteResponse);
    expect(runtime.containers.size).toBe(0);
    expect(mica.instances.size).toBe(0);
    expect((await failure(taskStatus('fw-b'))).code).toBe(Code.NotFound);
    await task('Shutdown', T.ShutdownRequest, { id: POD, now: false }, google.protobuf.Empty);
    await new Promise((r) => setImmediate(r));
    expect(shutdowns).toBe(1);
  });

  test('Delete of the pause container also ends a pod container that was created but never started', async () => {
    await runTask(POD, pauseContainer(POD));
    await task('Create', T.CreateTaskRequest, { id: 'fw-c', bundle: podContainer('fw-c'), stdin: '', stdout: '', stderr: '', terminal: false, rootfs: [] }, T.CreateTaskResponse);
    expect(ioClosed).toEqual([]);
    await task('Kill', T.KillRequest, { id: POD, signal: 9 }, google.protobuf.Empty);
    await task('Delete', T.DeleteRequest, { id: POD }, T.DeleteResponse);
    expect(runtime.containers.size).toBe(0);
    expect(mica.instances.size).toBe(0);
    expect(ioClosed).toContain('fw-c'); // its stdio is not leaked
    expect(events.find((e) => e.type === 'TaskExit' && e.event.containerId === 'fw-c')?.event.exitStatus).toBe(137);
  });

  test('another pod in the same daemon is left alone when one pod stops', async () => {
    await runTask(POD, pauseContainer(POD));
    await runTask('pod-2', pauseContainer('pod-2'));
    await runTask('fw-a', podContainer('fw-a'));
    await runTask('fw-x', podContainer('fw-x', {}, 'pod-2'));
    await task('Kill', T.KillRequest, { id: POD, signal: 9 }, google.protobuf.Empty);
    expect(await taskStatus('fw-a')).toBe(containerd.v1.types.Status.STOPPED);
    expect(await taskStatus('fw-x')).toBe(containerd.v1.types.Status.RUNNING);
  });
});
