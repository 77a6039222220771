// The container lifecycle on top of micad: what Create, Start, Kill, Delete, Pause/Resume,
// Update and Stats do to the instance, the rootfs and the persisted state. Each operation
// persists the container record before it returns (so `delete` can clean up after a daemon that
// died), and every way a task can end goes through the one exit path, exited().
//
// Knows nothing of ttrpc, protobuf, events or stdio: the shim passes plain values in and gets
// the Container back; it learns about exits through the onExit hook.
import path from 'node:path';
import { alreadyExists, Code, CodedError, failedPrecondition, isCodedError, notFound } from '../errors';
import type { MicaClient } from '../mica/types';
import { classifyContainer, inheritAnnotations, parseAnnotations } from '../oci/annotations';
import { applySetCall, planCreateResources, planUpdate, type ResourceDefaults } from '../oci/resources';
import { unmountRootfs, type RootfsMount } from '../oci/rootfs';
import { reportSkippedHooks } from '../oci/hooks';
import { loadSpec, parseLinuxResources } from '../oci/spec';
import { waitForConsole } from './console-wait';
import { setUpApp, type BaseRecord } from './app-setup';
import { Container, type ExitInfo, type Stdio } from './container';
import type { ContainerRegistry } from './container-registry';
import { ExitMonitor } from './exit-monitor';
import { signalAction, signalName, type SignalAction } from './signal-policy';
import { containerDir, type StateStore } from './state-store';

export type { RootfsMount } from '../oci/rootfs';

export interface CreateInput {
  id: string;
  bundle: string;
  rootfs: RootfsMount[];
  stdio: Stdio;
  /**
   * Runs first, once the id is reserved: the shim opens the task's IO here, so that a Delete
   * arriving meanwhile already counts as one during Create (see `abandoned`).
   */
  prepare?: () => Promise<void>;
}

export interface RuntimeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RuntimeDeps {
  mica: MicaClient;
  store: StateStore;
  containers: ContainerRegistry;
  namespace: string;
  stateDir: string;
  /** The pid reported for every task: the daemon's (an RTOS instance has no host process). */
  pid: number;
  resources: ResourceDefaults;
  /** micad pedestal from config ("" = bare metal / whatever micad defaults to). */
  pedestal?: string;
  log: RuntimeLogger;
  /** Upper bound on a staged firmware (and ped.conf) file: the state dir is usually a tmpfs. */
  maxFirmwareBytes: number;
  /**
   * Called once per container after its exit is persisted and its waiters are released. The shim
   * closes the container's IO and publishes TaskExit here (when the report says to announce it).
   */
  onExit: (container: Container, report: ExitReport) => Promise<void>;
  /** Exit poll period (ms); ~250 in production. */
  pollIntervalMs?: number;
  /** How long Start waits for the RTOS console to appear in micad's status. */
  consoleTimeoutMs?: number;
}

export interface StartResult {
  container: Container;
  /** Path of the RTOS console tty, when the instance has one. */
  console?: string;
}

export interface Usage {
  cpuTimeNs: number;
  memoryBytes: number;
}

/**
 * How a container's end is reported. `announce` is false only when Start failed after micad had
 * started the instance: containerd got the error and never saw TaskStart, so no TaskExit either.
 */
export interface ExitReport {
  announce: boolean;
}

export class Runtime {
  private readonly monitor: ExitMonitor;
  /** Ids whose Create is in progress: a concurrent Create of the same id fails fast. */
  private readonly creating = new Set<string>();
  /**
   * Ids deleted while their Create was still in progress. containerd does that when it gives a
   * Create up (its client went away mid-`ctr run`): it deletes the task, shuts the connection
   * and removes the bundle without waiting for our reply. Such a Create is undone when it ends —
   * kept, it would be a container nobody will ever delete, holding its daemon for ever.
   */
  private readonly abandoned = new Set<string>();
  /** The running or finished exit path of each stopped container (see exited()). */
  private readonly exitPaths = new Map<string, Promise<void>>();

  constructor(private readonly deps: RuntimeDeps) {
    this.monitor = new ExitMonitor({
      mica: deps.mica,
      intervalMs: deps.pollIntervalMs,
      log: deps.log,
      onExit: (container, status) => void this.exited(container, status),
    });
  }

  get containers(): ContainerRegistry {
    return this.deps.containers;
  }

  /** A Create (or CreateSandbox) is in progress. */
  isCreating(): boolean {
    return this.creating.size > 0;
  }

  /** No container and no Create in progress: the only state in which the daemon may stop. */
  isIdle(): boolean {
    return this.deps.containers.size === 0 && this.creating.size === 0;
  }

  async create(input: CreateInput): Promise<Container> {
    const { id, bundle } = input;
    const stateDir = containerDir(this.deps.stateDir, id); // an id that cannot name a directory fails first
    this.reserve(id, 'container');
    try {
      await input.prepare?.();
      const spec = await loadSpec(bundle);
      reportSkippedHooks(spec.hooks, (fields, message) => this.deps.log.info({ id, ...fields }, message));
      const cls = classifyContainer(spec.annotations, id);
      const base = this.baseRecord(id, bundle, input.stdio, cls.kind === 'single' ? undefined : cls.sandboxId);
      if (cls.kind === 'infra') return await this.unlessAbandoned(await this.addInfra(base, spec.annotations));
      const annotations = base.sandboxId ? inheritAnnotations(this.podAnnotations(base.sandboxId), spec.annotations) : spec.annotations;
      const container = await setUpApp(this.deps, { base, spec, annotations, mounts: input.rootfs, stateDir });
      this.deps.containers.add(container);
      return await this.unlessAbandoned(container);
    } finally {
      this.release(id);
    }
  }

  /**
   * Starts the instance and waits for its console. Does NOT watch for the exit yet: the shim
   * calls watch() after it has published TaskStart, so TaskExit can never overtake it.
   */
  async start(id: string): Promise<StartResult> {
    const container = this.deps.containers.get(id);
    if (container.state !== 'created') {
      throw failedPrecondition(`container ${id} is ${container.state}: only a created container can be started`);
    }
    await this.onInstance(container, (name) => this.deps.mica.start(name));
    container.transition('running');
    try {
      await this.persist(container);
    } catch (err) {
      // Unrecorded, the running instance would never be watched or cleaned up: end it now.
      await this.abortStart(id);
      throw err;
    }
    const console =
      container.kind === 'app' ? await waitForConsole(this.deps.mica, container.instance, this.deps.consoleTimeoutMs ?? 5_000, (obj, msg) => this.deps.log.warn({ id, ...obj }, msg)) : undefined;
    return console ? { container, console } : { container };
  }

  /**
   * Ends a container whose Start failed after micad started it (the state could not be persisted,
   * or the shim could not attach the console): stops the instance and runs the exit path without
   * announcing it (see ExitReport), so Wait returns and Delete can clean up.
   */
  async abortStart(id: string): Promise<void> {
    const container = this.deps.containers.get(id);
    if (container.state === 'stopped') return;
    await this.stopInstance(container).catch((err: unknown) => this.deps.log.warn({ id, err: String(err) }, 'failed start: cannot stop the instance'));
    await this.exited(container, 128 + SIGKILL, { announce: false });
  }

  /** Begins exit detection for a started container (see start()). */
  watch(container: Container): void {
    this.monitor.watch(container);
  }

  /** Applies a signal (see signal-policy.ts); returns what it did so the shim can publish. */
  async kill(id: string, signal: number): Promise<SignalAction['kind']> {
    const container = this.deps.containers.get(id);
    if (container.state === 'stopped') throw notFound(`container ${id}: process already finished`);
    const action = signalAction(signal);
    switch (action.kind) {
      case 'ignore':
        this.deps.log.info({ id, signal: signalName(signal) }, 'kill: signal has no meaning for an RTOS, ignored');
        break;
      case 'pause':
        await this.pause(id);
        break;
      case 'resume':
        await this.resume(id);
        break;
      case 'stop':
        if (container.kind === 'infra') await this.stopPod(container.id); // the pod's containers go first
        await this.stopInstance(container);
        await this.exited(container, action.exitStatus);
    }
    return action.kind;
  }

  async pause(id: string): Promise<void> {
    const container = this.deps.containers.get(id);
    if (!container.canTransition('paused')) throw failedPrecondition(`container ${id} is ${container.state}: cannot pause`);
    await this.onInstance(container, (name) => this.deps.mica.pause(name));
    container.transition('paused');
    await this.persist(container);
  }

  async resume(id: string): Promise<void> {
    const container = this.deps.containers.get(id);
    if (container.state !== 'paused') throw failedPrecondition(`container ${id} is ${container.state}: only a paused container can be resumed`);
    await this.onInstance(container, (name) => this.deps.mica.resume(name));
    container.transition('running');
    await this.persist(container);
  }

  wait(id: string, signal?: AbortSignal): Promise<ExitInfo> {
    return this.deps.containers.get(id).waitExit(signal);
  }

  /** Removes everything of a stopped (or never started) container and forgets it. */
  async delete(id: string): Promise<ExitInfo & { pid: number }> {
    if (this.creating.has(id) && !this.deps.containers.has(id)) {
      this.abandoned.add(id);
      throw notFound(`container ${id} not found in this shim: its Create has not finished, and is undone when it does`);
    }
    const container = this.deps.containers.get(id);
    if (container.state === 'running' || container.state === 'paused') {
      throw failedPrecondition(`container ${id} is ${container.state}: kill it before deleting it`);
    }
    // Wait callers are released before the exit path ends (IO close, TaskExit): a Delete that
    // follows Wait at once must not remove state the exit path still writes, nor overtake TaskExit.
    await this.exitPaths.get(id);
    if (container.kind === 'infra') await this.removePod(container.id); // nothing of the pod outlives it
    if (container.state === 'created') {
      // Never started: there is no exit to report as an event, but Wait callers must return.
      container.markExited(0, new Date());
      container.releaseWaiters();
    }
    this.monitor.unwatch(id);
    await this.onInstance(container, (name) => this.removeInstance(name));
    if (container.record.rootfsMount) await unmountRootfs(container.record.rootfsMount);
    await this.deps.store.remove(id);
    this.deps.containers.remove(id);
    this.exitPaths.delete(id);
    const exit = container.exitInfo!;
    return { pid: container.pid, ...exit };
  }

  async stats(id: string): Promise<Usage> {
    const container = this.deps.containers.get(id);
    if (container.kind !== 'app' || container.state === 'stopped') {
      throw notFound(`container ${id}: no statistics (${container.kind === 'app' ? 'not running' : 'pod sandbox'})`);
    }
    try {
      const info = await this.deps.mica.info(container.instance);
      if (info.cpuTimeNs === undefined && info.memoryBytes === undefined) {
        throw notFound(`container ${id}: micad reports no usage for instance ${container.instance}`);
      }
      return { cpuTimeNs: info.cpuTimeNs ?? 0, memoryBytes: info.memoryBytes ?? 0 };
    } catch (err) {
      if (isCodedError(err) && err.code === Code.Unimplemented) {
        throw notFound(`container ${id}: this micad cannot report CPU or memory usage`, err);
      }
      throw err;
    }
  }

  /**
   * Applies OCI LinuxResources (JSON from the Update request) with micad `set` calls. The record
   * follows micad call by call: when a `set` fails, what micad already applied is persisted before
   * the error is returned, so the next Update plans from what the instance really has.
   */
  async update(id: string, resourcesJson: unknown): Promise<void> {
    const container = this.deps.containers.get(id);
    const res = parseLinuxResources(resourcesJson);
    if (container.kind !== 'app') return; // a pod sandbox has no instance to resize
    if (container.state === 'stopped') throw failedPrecondition(`container ${id} has stopped: nothing to update`);
    const current = container.resources ?? planCreateResources(undefined, this.deps.resources);
    const { calls } = planUpdate(res, current);
    let applied = current;
    try {
      for (const call of calls) {
        await this.deps.mica.set(container.instance, call.key, call.value);
        applied = applySetCall(applied, call);
      }
    } finally {
      if (applied !== current) {
        container.resources = applied;
        await this.persist(container);
      }
    }
  }

  /**
   * A pod sandbox without a pause container (the Sandbox service's CreateSandbox, containerd 2.x
   * `sandboxer = "shim"`): registered as the pod's infra container, so Start/Kill/Wait/Delete,
   * stopping the whole pod and annotation inheritance behave exactly as for a pause container.
   */
  async createSandbox(input: { id: string; bundle: string; annotations: Record<string, string> }): Promise<Container> {
    const { id } = input;
    containerDir(this.deps.stateDir, id); // validates the id before anything is registered
    this.reserve(id, 'sandbox');
    try {
      parseAnnotations(input.annotations); // a bad pod annotation fails here, not at every container
      const stdio = { stdin: '', stdout: '', stderr: '', terminal: false };
      return await this.unlessAbandoned(await this.addInfra(this.baseRecord(id, input.bundle, stdio, id), input.annotations));
    } finally {
      this.release(id);
    }
  }

  /** The containers of pod `sandboxId` apart from its infra container, in creation order. */
  podMembers(sandboxId: string): Container[] {
    return this.deps.containers.list().filter((c) => c.record.sandboxId === sandboxId && c.id !== sandboxId);
  }

  /** Stops every running or paused container of the pod with `signal`, each through the one exit path. */
  async stopPod(sandboxId: string, signal = SIGKILL): Promise<void> {
    const live = this.podMembers(sandboxId).filter((c) => c.state === 'running' || c.state === 'paused');
    await Promise.all(
      live.map((c) =>
        this.kill(c.id, signal).catch((err: unknown) => this.deps.log.warn({ id: c.id, sandboxId, err: String(err) }, 'stopping pod: kill failed')),
      ),
    );
  }

  /** Stops, then removes every container of the pod but its infra container (micad instance, mount, state). */
  async removePod(sandboxId: string): Promise<void> {
    await this.stopPod(sandboxId);
    for (const c of this.podMembers(sandboxId)) {
      // Created but never started: end it through the exit path too, so the shim closes its IO
      // and containerd learns it will never run (delete() alone would do neither).
      if (c.state === 'created') await this.exited(c, 128 + SIGKILL);
      await this.delete(c.id).catch((err: unknown) => this.deps.log.warn({ id: c.id, sandboxId, err: String(err) }, 'removing pod: delete failed'));
    }
  }

  /** Stops exit detection (daemon shutdown); containers keep running in micad. */
  close(): void {
    this.monitor.close();
  }

  /**
   * THE exit path. Ordering invariant: (1) the state becomes stopped exactly once — a second
   * report (Kill racing the monitor) is dropped; (2) the record is persisted; (3) Wait callers
   * are released; (4) onExit runs (the shim closes IO, then publishes TaskExit when announced).
   */
  private exited(container: Container, exitStatus: number, report: ExitReport = { announce: true }): Promise<void> {
    if (!container.markExited(exitStatus, new Date())) return this.exitPaths.get(container.id) ?? Promise.resolve();
    const path = this.finishExit(container, exitStatus, report);
    this.exitPaths.set(container.id, path);
    return path;
  }

  private async finishExit(container: Container, exitStatus: number, report: ExitReport): Promise<void> {
    this.monitor.unwatch(container.id);
    await this.persist(container).catch((err: unknown) => this.deps.log.warn({ id: container.id, err: String(err) }, 'cannot persist exit'));
    container.releaseWaiters();
    this.deps.log.info({ id: container.id, exitStatus }, 'task exited');
    await this.deps.onExit(container, report).catch((err: unknown) =>
      this.deps.log.warn({ id: container.id, err: String(err) }, 'exit handler failed'),
    );
  }

  /** The pod's pause container (or Sandbox-service sandbox): nothing to run; its annotations are the pod's settings. */
  private async addInfra(base: BaseRecord, annotations: Record<string, string>): Promise<Container> {
    const container = new Container({ ...base, kind: 'infra', instance: '', annotations });
    await this.persist(container);
    this.deps.containers.add(container);
    return container;
  }

  private baseRecord(id: string, bundle: string, stdio: Stdio, sandboxId: string | undefined): BaseRecord {
    const { namespace, pid } = this.deps;
    return { id, namespace, bundle, pid, stdio, createdAt: new Date().toISOString(), ...(sandboxId ? { sandboxId } : {}) };
  }

  private reserve(id: string, what: 'container' | 'sandbox'): void {
    // A duplicate id, or the same id created twice concurrently.
    if (this.deps.containers.has(id) || this.creating.has(id)) throw alreadyExists(`${what} ${id} already exists in this shim`);
    this.creating.add(id);
  }

  /** Ends a Create's reservation, whichever way it went. */
  private release(id: string): void {
    this.creating.delete(id);
    this.abandoned.delete(id);
  }

  /**
   * The container a Create just registered — unless it was deleted meanwhile (see `abandoned`):
   * then it is removed again (instance, mount, record) and the Create fails. Nobody hears that
   * reply; the daemon is left as if the Create had never come.
   */
  private async unlessAbandoned(container: Container): Promise<Container> {
    if (!this.abandoned.has(container.id)) return container;
    this.deps.log.info({ id: container.id }, 'create: deleted by containerd while it was being created; undoing it');
    try {
      await this.delete(container.id);
    } catch (err) {
      // Kept registered, it would hold this daemon for ever with nobody to delete it. Forgotten,
      // its record (bundle gone, containerd removed it) is an orphan the next sweep removes.
      this.deps.containers.remove(container.id);
      this.deps.log.warn({ id: container.id, err: String(err) }, 'create: undoing an abandoned Create failed; left to the orphan sweep');
    }
    throw new CodedError(Code.Cancelled, `container ${container.id} was deleted while it was being created`);
  }

  private podAnnotations(sandboxId: string): Record<string, string> {
    return this.deps.containers.find(sandboxId)?.record.annotations ?? {};
  }

  /** Runs a micad operation on the container's instance; a pod's infra container has none. */
  private async onInstance(container: Container, op: (instance: string) => Promise<void>): Promise<void> {
    if (container.kind === 'app') await op(container.instance);
  }

  /**
   * micad `stop` for Kill. Exit detection pauses meanwhile (the monitor would report the stop as
   * an exit of its own, with the wrong status) and resumes if `stop` fails, so a container whose
   * stop failed is still watched.
   */
  private async stopInstance(container: Container): Promise<void> {
    if (container.kind !== 'app' || !this.deps.mica.exists(container.instance)) return;
    const watched = this.monitor.unwatch(container.id);
    try {
      await this.deps.mica.stop(container.instance);
    } catch (err) {
      if (watched) this.monitor.watch(container);
      throw err;
    }
  }

  private async removeInstance(name: string): Promise<void> {
    if (this.deps.mica.exists(name)) await this.deps.mica.remove(name);
  }

  private persist(container: Container): Promise<void> {
    return this.deps.store.save(container.toRecord());
  }

}


const SIGKILL = 9;
