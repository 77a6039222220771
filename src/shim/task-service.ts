// containerd.task.v2.Task over the runtime: each method decodes its request, calls the
// Runtime, publishes the event containerd expects, and encodes the reply. Nothing else lives
// here: lifecycle rules are in src/runtime, stdio plumbing in src/shim/io.
//
// Event order per container is create → start → exit → delete: TaskStart is published before
// exit detection begins (runtime.watch after publish in Start), TaskExit comes from the single
// exit path (daemon.ts onExit), TaskDelete only after the container stopped.
import { invalidArgument, unimplemented } from '../errors';
import { containerd, google, io, packAny, toTimestamp } from '../proto';
import type { Container, ContainerState, Stdio } from '../runtime/container';
import type { Runtime, RuntimeDeps } from '../runtime/runtime';
import type { Handler } from '../ttrpc';
import { unary } from './unary';

export const TASK_SERVICE = 'containerd.task.v2.Task';
/** Task API v3: the same messages as v2 under a new name (containerd 2.x, shim bootstrap version 3). */
export const TASK_SERVICE_V3 = 'containerd.task.v3.Task';

export type TaskMethod =
  | 'State' | 'Create' | 'Start' | 'Delete' | 'Pids' | 'Pause' | 'Resume' | 'Checkpoint' | 'Kill'
  | 'Exec' | 'ResizePty' | 'CloseIO' | 'Update' | 'Wait' | 'Stats' | 'Connect' | 'Shutdown';
export type TaskService = Record<TaskMethod, Handler>;

/** The slice of TaskIO (src/shim/io) the service drives. */
export interface TaskIOHandle {
  attach(consolePath: string): Promise<void>;
  resize(cols: number, rows: number): void;
  closeStdin(): void;
  close(): Promise<void>;
}
export type OpenTaskIO = (stdio: Stdio, containerId: string) => Promise<TaskIOHandle>;

export type TaskEventType = 'TaskCreate' | 'TaskStart' | 'TaskExit' | 'TaskDelete' | 'TaskPaused' | 'TaskResumed';
export interface EventSink {
  publish(type: TaskEventType, event: object): void;
}

export interface TaskServiceDeps {
  runtime: Runtime;
  /** IO of each container, shared with the daemon's exit path (which closes it). */
  ios: Map<string, TaskIOHandle>;
  openIO: OpenTaskIO;
  events: EventSink;
  shimPid: number;
  /** Called after Shutdown has replied, when no container is left. */
  requestShutdown(): void;
}

const T = containerd.task.v2;
const Empty = google.protobuf.Empty;
const STATUS: Record<ContainerState, containerd.v1.types.Status> = {
  created: containerd.v1.types.Status.CREATED,
  running: containerd.v1.types.Status.RUNNING,
  paused: containerd.v1.types.Status.PAUSED,
  stopped: containerd.v1.types.Status.STOPPED,
};

export function createTaskService(deps: TaskServiceDeps): TaskService {
  const { runtime, ios, events } = deps;
  const get = (id: string) => runtime.containers.get(id);

  return {
    Create: unary(T.CreateTaskRequest, T.CreateTaskResponse, async (req) => {
      if (req.checkpoint) throw unimplemented('restoring from a checkpoint is not supported by micrun');
      const stdio = { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal };
      const opened: { io?: TaskIOHandle } = {};
      let container: Container;
      try {
        container = await runtime.create({
          id: req.id,
          bundle: req.bundle,
          stdio,
          rootfs: req.rootfs.map((m) => ({ type: m.type ?? '', source: m.source ?? '', target: m.target ?? '', options: m.options ?? [] })),
          // First, under the id's reservation: bad stdio URIs fail before anything exists.
          prepare: async () => void (opened.io = await deps.openIO(stdio, req.id)),
        });
      } catch (err) {
        await opened.io?.close().catch(() => {});
        throw err;
      }
      ios.set(req.id, opened.io!);
      events.publish('TaskCreate', {
        containerId: req.id,
        bundle: req.bundle,
        rootfs: req.rootfs,
        io: stdio,
        checkpoint: req.checkpoint,
        pid: container.pid,
      });
      return { pid: container.pid };
    }),

    Start: unary(T.StartRequest, T.StartResponse, async (req) => {
      refuseExec(req.execId);
      const { container, console } = await runtime.start(req.id);
      if (console) {
        try {
          await ios.get(req.id)?.attach(console);
        } catch (err) {
          await runtime.abortStart(req.id); // containerd gets the error; no TaskStart, so no TaskExit
          throw err;
        }
      }
      events.publish('TaskStart', { containerId: req.id, pid: container.pid });
      runtime.watch(container); // only now: TaskExit must not overtake TaskStart
      return { pid: container.pid };
    }),

    State: unary(T.StateRequest, T.StateResponse, async (req) => {
      refuseExec(req.execId);
      const c = get(req.id);
      const { stdio } = c.record;
      return {
        id: c.id,
        bundle: c.record.bundle,
        pid: c.pid,
        status: STATUS[c.state],
        stdin: stdio.stdin,
        stdout: stdio.stdout,
        stderr: stdio.stderr,
        terminal: stdio.terminal,
        exitStatus: c.exitInfo?.exitStatus ?? 0,
        exitedAt: toTimestamp(c.exitInfo?.exitedAt),
        execId: '',
      };
    }),

    Kill: unary(T.KillRequest, Empty, async (req) => {
      refuseExec(req.execId);
      const action = await runtime.kill(req.id, req.signal);
      if (action === 'pause') events.publish('TaskPaused', { containerId: req.id });
      if (action === 'resume') events.publish('TaskResumed', { containerId: req.id });
      return {};
    }),

    Delete: unary(T.DeleteRequest, T.DeleteResponse, async (req) => {
      refuseExec(req.execId);
      const exit = await runtime.delete(req.id);
      await ios.get(req.id)?.close();
      ios.delete(req.id);
      const exitedAt = toTimestamp(exit.exitedAt);
      events.publish('TaskDelete', { containerId: req.id, pid: exit.pid, exitStatus: exit.exitStatus, exitedAt, id: '' });
      return { pid: exit.pid, exitStatus: exit.exitStatus, exitedAt };
    }),

    Wait: unary(T.WaitRequest, T.WaitResponse, async (req, ctx) => {
      refuseExec(req.execId);
      const exit = await runtime.wait(req.id, ctx.signal);
      return { exitStatus: exit.exitStatus, exitedAt: toTimestamp(exit.exitedAt) };
    }),

    Pids: unary(T.PidsRequest, T.PidsResponse, async (req) => ({ processes: [{ pid: get(req.id).pid }] })),

    Pause: unary(T.PauseRequest, Empty, async (req) => {
      await runtime.pause(req.id);
      events.publish('TaskPaused', { containerId: req.id });
      return {};
    }),

    Resume: unary(T.ResumeRequest, Empty, async (req) => {
      await runtime.resume(req.id);
      events.publish('TaskResumed', { containerId: req.id });
      return {};
    }),

    ResizePty: unary(T.ResizePtyRequest, Empty, async (req) => {
      refuseExec(req.execId);
      get(req.id);
      ios.get(req.id)?.resize(req.width, req.height);
      return {};
    }),

    CloseIO: unary(T.CloseIORequest, Empty, async (req) => {
      refuseExec(req.execId);
      get(req.id);
      if (req.stdin) ios.get(req.id)?.closeStdin();
      return {};
    }),

    Update: unary(T.UpdateTaskRequest, Empty, async (req) => {
      await runtime.update(req.id, decodeJsonAny(req.resources, 'resources'));
      return {};
    }),

    Stats: unary(T.StatsRequest, T.StatsResponse, async (req) => {
      const usage = await runtime.stats(req.id);
      const metrics = io.containerd.cgroups.v1.Metrics.encode({
        cpu: { usage: { total: usage.cpuTimeNs, user: usage.cpuTimeNs } },
        memory: { usage: { usage: usage.memoryBytes } },
      }).finish();
      return { stats: packAny('io.containerd.cgroups.v1.Metrics', metrics) };
    }),

    Connect: unary(T.ConnectRequest, T.ConnectResponse, async (req) => ({
      shimPid: deps.shimPid,
      taskPid: runtime.containers.find(req.id)?.pid ?? 0,
      version: '',
    })),

    Shutdown: unary(T.ShutdownRequest, Empty, async () => {
      // Only a daemon that serves nothing may go; containerd calls this after every Delete.
      if (runtime.isIdle()) setImmediate(() => deps.requestShutdown());
      return {};
    }),

    Exec: unary(T.ExecProcessRequest, Empty, async (req) => {
      throw unimplemented(
        `exec is not supported for micrun task ${req.id}: RTOS firmware has no processes to exec; ` +
          'use `ctr task attach` to reach its console',
      );
    }),

    Checkpoint: unary(T.CheckpointTaskRequest, Empty, async (req) => {
      throw unimplemented(`checkpoint is not supported for micrun task ${req.id}: micad cannot snapshot an RTOS instance`);
    }),
  } satisfies TaskService;
}

/**
 * The shim half of the exit path (Runtime calls it after persisting the exit and releasing
 * Wait): flush and close the container's stdio so `ctr run` returns, then publish TaskExit.
 */
export function exitHandler(ios: Map<string, TaskIOHandle>, events: EventSink): RuntimeDeps['onExit'] {
  return async (container, report) => {
    await ios.get(container.id)?.close();
    ios.delete(container.id);
    if (!report.announce) return;
    const exit = container.exitInfo!;
    events.publish('TaskExit', {
      containerId: container.id,
      id: container.id, // the init process: CRI matches TaskExit.id against the container id
      pid: container.pid,
      exitStatus: exit.exitStatus,
      exitedAt: toTimestamp(exit.exitedAt),
    });
  };
}


function refuseExec(execId: string | null | undefined): void {
  if (execId) throw unimplemented(`exec processes are not supported by micrun (exec id ${execId})`);
}

/** OCI structures travel as an Any whose value is JSON (typeurl's non-protobuf encoding). */
function decodeJsonAny(any: google.protobuf.Any.$Properties | null | undefined, field: string): unknown {
  if (!any?.value || any.value.length === 0) return {};
  try {
    return JSON.parse(Buffer.from(any.value).toString('utf8'));
  } catch (err) {
    throw invalidArgument(`${field} (${any.type_url ?? 'no type'}) is not valid JSON: ${(err as Error).message}`);
  }
}
