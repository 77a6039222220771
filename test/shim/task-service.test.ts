// The Task service against a fake MicaClient: real bundles in a temp dir, real state store, real
// firmware lookup; fakes only for micad, stdio and the event sink.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Code, unavailable } from '../../src/errors';
import { containerd, google, io } from '../../src/proto';
import type { Runtime } from '../../src/runtime/runtime';
import { newTestRuntime } from '../runtime/test-runtime';
import {
  createTaskService,
  exitHandler,
  type TaskEventType,
  type TaskIOHandle,
  type TaskService,
} from '../../src/shim/task-service';
import type { CallContext } from '../../src/ttrpc';
import { FakeMica } from '../runtime/fake-mica';

const T = containerd.task.v2;
const SHIM_PID = 4242;

class FakeIO implements TaskIOHandle {
  log: string[] = [];
  constructor(private readonly shared: string[]) {}
  static failAttach?: Error;
  async attach(p: string) {
    if (FakeIO.failAttach) throw FakeIO.failAttach;
    this.log.push(`attach ${p}`);
  }
  resize(c: number, r: number) {
    this.log.push(`resize ${c}x${r}`);
  }
  closeStdin() {
    this.log.push('closeStdin');
  }
  static closeDelayMs = 0;
  private closing = false;
  async close() {
    if (this.closing) return; // idempotent: a second close does not wait for the first
    this.closing = true;
    if (FakeIO.closeDelayMs) await new Promise((r) => setTimeout(r, FakeIO.closeDelayMs));
    this.log.push('close');
    this.shared.push('io-close');
  }
}

let dir: string;
let mica: FakeMica;
let events: { type: TaskEventType; event: any }[];
let order: string[];
let ios: Map<string, TaskIOHandle>;
let svc: TaskService;
let shutdowns: number;
let runtime: Runtime;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-task-'));
  mica = new FakeMica();
  events = [];
  order = [];
  shutdowns = 0;
  ios = new Map();
  const sink = {
    publish: (type: TaskEventType, event: object) => {
      events.push({ type, event });
      order.push(type);
    },
  };
  const stateDir = path.join(dir, 'state');
  runtime = newTestRuntime({ mica, stateDir, pid: SHIM_PID, onExit: exitHandler(ios, sink), consoleTimeoutMs: 200 });
  svc = createTaskService({
    runtime,
    ios,
    events: sink,
    shimPid: SHIM_PID,
    openIO: async (stdio) => {
      if (stdio.stdout.startsWith('bogus://')) throw Object.assign(new Error('unknown STDIO scheme bogus'), { code: Code.InvalidArgument });
      return new FakeIO(order);
    },
    requestShutdown: () => shutdowns++,
  });
});
afterEach(() => {
  FakeIO.closeDelayMs = 0;
  FakeIO.failAttach = undefined;
  runtime.close();
  rmSync(dir, { recursive: true, force: true });
});

function ctx(signal = new AbortController().signal): CallContext {
  return { service: 'containerd.task.v2.Task', method: 'x', metadata: new Map(), signal };
}

async function call<Res>(method: keyof TaskService, reqType: any, req: object, resType: { decode(b: Uint8Array): Res }, c = ctx()): Promise<Res> {
  const bytes = await svc[method](reqType.encode(req).finish(), c);
  return resType.decode(bytes);
}

/** A bundle whose rootfs (root.path) holds /firmware.elf. */
function bundle(id: string, opts: { annotations?: Record<string, string>; firmware?: boolean; resources?: object } = {}) {
  const b = path.join(dir, 'bundles', id);
  mkdirSync(path.join(b, 'rootfs'), { recursive: true });
  if (opts.firmware !== false) writeFileSync(path.join(b, 'rootfs', 'firmware.elf'), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(60)]));
  writeFileSync(
    path.join(b, 'config.json'),
    JSON.stringify({
      ociVersion: '1.0.2',
      process: { args: ['/firmware.elf'], env: ['PATH=/bin'], cwd: '/' },
      root: { path: 'rootfs' },
      annotations: opts.annotations ?? {},
      ...(opts.resources ? { linux: { resources: opts.resources } } : {}),
    }),
  );
  return b;
}

const stdio = { stdin: '', stdout: '/fifo/out', stderr: '/fifo/err', terminal: false };
const create = (id: string, b = bundle(id), extra: object = {}) =>
  call('Create', T.CreateTaskRequest, { id, bundle: b, ...stdio, ...extra }, T.CreateTaskResponse);
const start = (id: string) => call('Start', T.StartRequest, { id }, T.StartResponse);
const state = (id: string) => call('State', T.StateRequest, { id }, T.StateResponse);
const kill = (id: string, signal: number) => call('Kill', T.KillRequest, { id, signal }, google.protobuf.Empty);
const del = (id: string) => call('Delete', T.DeleteRequest, { id }, T.DeleteResponse);
const wait = (id: string, c?: CallContext) => call('Wait', T.WaitRequest, { id }, T.WaitResponse, c);

async function codeOf(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    return { code: (err as { code: number }).code, message: (err as Error).message };
  }
  throw new Error('expected a rejection');
}

describe('Task service', () => {
  test('Create registers a micad instance with the staged firmware, persists state, publishes TaskCreate', async () => {
    const res = await create('c1');
    expect(res.pid).toBe(SHIM_PID);
    const inst = mica.instances.get('c1')!;
    expect(inst.params.firmwarePath).toBe(path.join(dir, 'state', 'containers', 'c1', 'firmware.elf'));
    expect(existsSync(inst.params.firmwarePath)).toBe(true);
    expect(inst.params.memoryMiB).toBe(32);
    expect(existsSync(path.join(dir, 'state', 'containers', 'c1', 'state.json'))).toBe(true);
    expect(events).toEqual([{ type: 'TaskCreate', event: expect.objectContaining({ containerId: 'c1', pid: SHIM_PID }) }]);
    expect((await state('c1')).status).toBe(containerd.v1.types.Status.CREATED);
  });

  test('a duplicate id is AlreadyExists', async () => {
    await create('dup');
    expect((await codeOf(create('dup'))).code).toBe(Code.AlreadyExists);
  });

  test('a failed Create (no firmware) leaves nothing behind and names what it tried', async () => {
    const err = await codeOf(create('nofw', bundle('nofw', { firmware: false })));
    expect(err.code).toBe(Code.NotFound);
    expect(err.message).toMatch(/firmware\.elf/);
    expect(mica.instances.size).toBe(0);
    expect(existsSync(path.join(dir, 'state', 'containers', 'nofw'))).toBe(false);
    expect(order).toEqual(['io-close']);
    expect(events).toEqual([]);
    expect((await codeOf(state('nofw'))).code).toBe(Code.NotFound);
  });

  test('a failed micad create removes the staged firmware and state', async () => {
    mica.failCreate = unavailable('micad is not running');
    const err = await codeOf(create('down'));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.message).toMatch(/micad is not running/);
    expect(existsSync(path.join(dir, 'state', 'containers', 'down'))).toBe(false);
  });

  test('events go create → start → exit → delete; IO closes before TaskExit; Wait returns the firmware exit code', async () => {
    await create('run1');
    const waiting = wait('run1'); // Wait before Start is valid
    expect((await start('run1')).pid).toBe(SHIM_PID);
    expect((ios.get('run1') as FakeIO).log).toEqual(['attach /dev/pts/fake']);
    expect((await state('run1')).status).toBe(containerd.v1.types.Status.RUNNING);
    mica.finish('run1', 3);
    const exit = await waiting;
    expect(exit.exitStatus).toBe(3);
    await new Promise((r) => setTimeout(r, 20));
    const st = await state('run1');
    expect(st.status).toBe(containerd.v1.types.Status.STOPPED);
    expect(st.exitStatus).toBe(3);
    const d = await del('run1');
    expect(d.exitStatus).toBe(3);
    expect(order).toEqual(['TaskCreate', 'TaskStart', 'io-close', 'TaskExit', 'TaskDelete']);
    const exitEvent = events.find((e) => e.type === 'TaskExit')!.event;
    expect(exitEvent).toMatchObject({ containerId: 'run1', id: 'run1', exitStatus: 3, pid: SHIM_PID });
    expect(mica.instances.has('run1')).toBe(false);
    expect(existsSync(path.join(dir, 'state', 'containers', 'run1'))).toBe(false);
  });

  test('regression: a console attach that fails during Start publishes neither TaskStart nor TaskExit; Wait returns, Delete cleans up', async () => {
    await create('att');
    FakeIO.failAttach = Object.assign(new Error('cannot open /dev/pts/fake'), { code: 'EACCES' });
    expect((await codeOf(start('att'))).message).toContain('/dev/pts/fake');
    expect((await wait('att')).exitStatus).toBe(137);
    expect(order).toEqual(['TaskCreate', 'io-close']);
    expect(mica.instances.get('att')!.state).toBe('Offline');
    await del('att');
    expect(order).toEqual(['TaskCreate', 'io-close', 'TaskDelete']);
    expect(mica.instances.size).toBe(0);
  });

  test('Kill SIGTERM stops with 143 once; a second Kill is NotFound "process already finished"', async () => {
    await create('k1');
    await start('k1');
    await kill('k1', 15);
    expect((await wait('k1')).exitStatus).toBe(143);
    expect(mica.calls).toContain('stop k1');
    const again = await codeOf(kill('k1', 9));
    expect(again.code).toBe(Code.NotFound);
    expect(again.message).toMatch(/process already finished/);
    expect(order.filter((e) => e === 'TaskExit')).toHaveLength(1);
  });

  test('unsupported signals are InvalidArgument naming the signal; SIGWINCH is accepted and ignored', async () => {
    await create('k2');
    await start('k2');
    const err = await codeOf(kill('k2', 1));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toMatch(/SIGHUP/);
    await kill('k2', 28);
    expect((await state('k2')).status).toBe(containerd.v1.types.Status.RUNNING);
  });

  test('Delete refuses a running task, and an unknown id is NotFound', async () => {
    await create('d1');
    await start('d1');
    expect((await codeOf(del('d1'))).code).toBe(Code.FailedPrecondition);
    expect((await codeOf(del('ghost'))).code).toBe(Code.NotFound);
  });

  test('Delete of a never-started task releases Wait and removes the instance; no TaskExit', async () => {
    await create('n1');
    const waiting = wait('n1');
    await del('n1');
    const released = await waiting; // released with exit 0 and the time of the Delete
    expect(released.exitStatus ?? 0).toBe(0);
    expect(Number(released.exitedAt?.seconds)).toBeGreaterThan(0);
    expect(mica.instances.size).toBe(0);
    expect(order).toEqual(['TaskCreate', 'io-close', 'TaskDelete']);
  });

  test('Wait is aborted when its call is', async () => {
    await create('w1');
    const ac = new AbortController();
    const waiting = wait('w1', ctx(ac.signal));
    ac.abort(new Error('connection closed'));
    await expect(waiting).rejects.toThrow('connection closed');
  });

  test('the pod sandbox (infra) container never talks to micad', async () => {
    const annotations = { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'pod1' };
    await create('pod1', bundle('pod1', { annotations, firmware: false }));
    expect((await start('pod1')).pid).toBe(SHIM_PID);
    expect(mica.calls).toEqual([]);
    expect((await state('pod1')).status).toBe(containerd.v1.types.Status.RUNNING);
    await kill('pod1', 9);
    expect((await wait('pod1')).exitStatus).toBe(137);
    await del('pod1');
    expect(mica.calls).toEqual([]);
  });

  test('pod containers inherit the sandbox annotations', async () => {
    const sb = { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'pod2', 'org.openeuler.micrun.container.min_memory_mb': '64' };
    await create('pod2', bundle('pod2', { annotations: sb, firmware: false }));
    await create('app2', bundle('app2', { annotations: { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod2' } }));
    expect(mica.instances.get('app2')!.params.memoryMiB).toBe(64);
  });

  test('SIGSTOP/SIGCONT and Pause/Resume publish TaskPaused/TaskResumed; real micad → Unimplemented', async () => {
    await create('p1');
    await start('p1');
    await kill('p1', 19);
    expect((await state('p1')).status).toBe(containerd.v1.types.Status.PAUSED);
    await kill('p1', 18);
    await call('Pause', T.PauseRequest, { id: 'p1' }, google.protobuf.Empty);
    await call('Resume', T.ResumeRequest, { id: 'p1' }, google.protobuf.Empty);
    expect(order.filter((e) => e.startsWith('TaskP') || e.startsWith('TaskR'))).toEqual(['TaskPaused', 'TaskResumed', 'TaskPaused', 'TaskResumed']);
    mica.simulator = false;
    const err = await codeOf(call('Pause', T.PauseRequest, { id: 'p1' }, google.protobuf.Empty));
    expect(err.code).toBe(Code.Unimplemented);
    expect(err.message).toMatch(/micad-sim/);
    expect((await state('p1')).status).toBe(containerd.v1.types.Status.RUNNING);
  });

  test('Stats returns cgroups v1 metrics from micad-sim; NotFound where micad cannot tell', async () => {
    await create('s1');
    await start('s1');
    const res = await call('Stats', T.StatsRequest, { id: 's1' }, T.StatsResponse);
    expect(res.stats!.type_url).toBe('io.containerd.cgroups.v1.Metrics');
    const m = io.containerd.cgroups.v1.Metrics.decode(res.stats!.value!);
    expect(m.cpu!.usage!.total).toBe(1234);
    expect(m.memory!.usage!.usage).toBe(5678);
    mica.simulator = false;
    expect((await codeOf(call('Stats', T.StatsRequest, { id: 's1' }, T.StatsResponse))).code).toBe(Code.NotFound);
  });

  test('Update sends micad set calls with the keys micad accepts; bad values are InvalidArgument', async () => {
    await create('u1');
    await start('u1');
    const json = (o: object) => ({ type_url: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources', value: Buffer.from(JSON.stringify(o)) });
    await call('Update', T.UpdateTaskRequest, { id: 'u1', resources: json({ memory: { limit: 128 * 1024 * 1024 }, cpu: { quota: 50000, period: 100000 } }) }, google.protobuf.Empty);
    expect(mica.calls.filter((c) => c.startsWith('set'))).toEqual(['set u1 cpucapacity 50', 'set u1 maxmemory 128', 'set u1 memory 128']);
    const err = await codeOf(call('Update', T.UpdateTaskRequest, { id: 'u1', resources: json({ cpu: { cpus: '0,,2' } }) }, google.protobuf.Empty));
    expect(err.code).toBe(Code.InvalidArgument);
  });

  test('Exec, Checkpoint and exec ids are Unimplemented with a reason', async () => {
    await create('e1');
    const exec = await codeOf(call('Exec', T.ExecProcessRequest, { id: 'e1', execId: 'x' }, google.protobuf.Empty));
    expect(exec.code).toBe(Code.Unimplemented);
    expect(exec.message).toMatch(/exec is not supported/);
    expect((await codeOf(call('Checkpoint', T.CheckpointTaskRequest, { id: 'e1' }, google.protobuf.Empty))).code).toBe(Code.Unimplemented);
    expect((await codeOf(call('State', T.StateRequest, { id: 'e1', execId: 'x' }, T.StateResponse))).code).toBe(Code.Unimplemented);
  });

  test('Pids has one entry (the daemon), Connect reports shim and task pid, ResizePty/CloseIO reach the IO', async () => {
    await create('x1');
    await start('x1');
    expect((await call('Pids', T.PidsRequest, { id: 'x1' }, T.PidsResponse)).processes.map((p) => p.pid)).toEqual([SHIM_PID]);
    expect(await call('Connect', T.ConnectRequest, { id: 'x1' }, T.ConnectResponse)).toMatchObject({ shimPid: SHIM_PID, taskPid: SHIM_PID });
    expect((await call('Connect', T.ConnectRequest, { id: 'zz' }, T.ConnectResponse)).taskPid).toBe(0);
    await call('ResizePty', T.ResizePtyRequest, { id: 'x1', width: 80, height: 24 }, google.protobuf.Empty);
    await call('CloseIO', T.CloseIORequest, { id: 'x1', stdin: true }, google.protobuf.Empty);
    expect((ios.get('x1') as FakeIO).log).toEqual(['attach /dev/pts/fake', 'resize 80x24', 'closeStdin']);
  });

  test('Shutdown exits only when no container remains', async () => {
    await create('sh1');
    await call('Shutdown', T.ShutdownRequest, { id: 'sh1' }, google.protobuf.Empty);
    await new Promise((r) => setImmediate(r));
    expect(shutdowns).toBe(0);
    await del('sh1');
    await call('Shutdown', T.ShutdownRequest, { id: 'sh1' }, google.protobuf.Empty);
    await new Promise((r) => setImmediate(r));
    expect(shutdowns).toBe(1);
  });

  test('regression (shutdown race): a Shutdown that arrives while a Create is in flight does not stop the daemon', async () => {
    mica.delayMs = 50; // micad create takes a while
    const creating = create('late');
    await new Promise((r) => setTimeout(r, 10)); // the Create is past its first await
    await call('Shutdown', T.ShutdownRequest, { id: 'gone' }, google.protobuf.Empty);
    await creating;
    await new Promise((r) => setImmediate(r));
    expect(shutdowns).toBe(0);
    expect(runtime.containers.get('late').state).toBe('created');
  });

  test('an instance that ends with an error is reported as exit 255', async () => {
    await create('q1');
    await start('q1');
    mica.instances.get('q1')!.state = 'Error';
    expect((await wait('q1')).exitStatus).toBe(255);
  });

  test('regression: a Delete sent as soon as Wait returns waits for the exit path (TaskExit first, no state left)', async () => {
    FakeIO.closeDelayMs = 150; // the IO drain of the exit path takes a while
    await create('race1');
    await start('race1');
    const waiting = wait('race1');
    mica.finish('race1', 7);
    expect((await waiting).exitStatus).toBe(7);
    const d = await del('race1');
    expect(d.exitStatus).toBe(7);
    expect(order.filter((e) => e.startsWith('Task'))).toEqual(['TaskCreate', 'TaskStart', 'TaskExit', 'TaskDelete']);
    expect(existsSync(path.join(dir, 'state', 'containers', 'race1'))).toBe(false);
  });
});

describe('instanceName', () => {
  test('is the container id when micad can take it, else a stable 57-byte name', async () => {
    const { instanceName } = await import('../../src/runtime/instance-params');
    expect(instanceName('a'.repeat(64))).toBe('a'.repeat(64));
    expect(instanceName('b'.repeat(65))).toBe('b'.repeat(65));
    const long = `${'c'.repeat(70)}-x`;
    const name = instanceName(long);
    expect(name).toHaveLength(57);
    expect(name.startsWith('c'.repeat(40))).toBe(true);
    expect(instanceName(long)).toBe(name);
    expect(instanceName(`${'c'.repeat(70)}-y`)).not.toBe(name);
  });

  test('a container with a 76-character id runs under its shortened micad name', async () => {
    const id = `long-${'z'.repeat(71)}`;
    await create(id);
    await start(id);
    const name = [...mica.instances.keys()][0]!;
    expect(name.length).toBeLessThanOrEqual(65);
    mica.finish(name, 0);
    expect((await wait(id)).exitStatus).toBe(0);
    await del(id);
    expect(mica.instances.size).toBe(0);
  });
});
