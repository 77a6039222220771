// The container lifecycle on top of micad: what Create, Start, Kill, Delete, Pause/Resume,
// Update and Stats do to the instance, the rootfs and the persisted state. Each operation
// persists the container record before it returns (so `delete` can clean up after a daemon that
// died), and every way a task can end goes through the one exit path, exited().
//
// Knows nothing of ttrpc, protobuf, events or stdio: the shim passes plain values in and gets
// the Container back; it learns about exits through the onExit hook.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { alreadyExists, Code, failedPrecondition, invalidArgument, isCodedError, notFound } from '../errors';
import type { CreateParams, MicaClient } from '../mica/types';
import { classifyContainer, inheritAnnotations, parseAnnotations, readEnvHints } from '../oci/annotations';
import { findFirmware, findPedestalConfig, stageFirmware, stagePedestalConfig } from '../oci/firmware';
import { isPedestal, pedestalOnWire, type Pedestal } from '../oci/pedestals';
import { planCreateResources, planUpdate, type GuestResources, type ResourceDefaults } from '../oci/resources';
import { mountRootfs, unmountRootfs } from '../oci/rootfs';
import { loadSpec, parseLinuxResources } from '../oci/spec';
import { Container, type ContainerRecord, type ExitInfo, type Stdio } from './container';
import { ExitMonitor } from './exit-monitor';
import type { ContainerRegistry } from './container-registry';
import { signalAction, signalName, type SignalAction } from './signal-policy';
import { containerDir, type StateStore } from './state-store';

export interface RootfsMount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

export interface CreateInput {
  id: string;
  bundle: string;
  rootfs: RootfsMount[];
  stdio: Stdio;
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
  /**
   * Called once per container after its exit is persisted and its waiters are released. The shim
   * closes the container's IO and publishes TaskExit here.
   */
  onExit: (container: Container) => Promise<void>;
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

/** Persisted extras the Runtime needs to keep per container. */
interface Extras {
  resources?: GuestResources;
  annotations?: Record<string, string>;
}

export class Runtime {
  private readonly monitor: ExitMonitor;
  private readonly creating = new Set<string>();
  private readonly extras = new Map<string, Extras>();
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

  async create(input: CreateInput): Promise<Container> {
    const { id, bundle } = input;
    const stateDir = containerDir(this.deps.stateDir, id); // an id that cannot name a directory fails first
    if (this.deps.containers.has(id) || this.creating.has(id)) {
      // A duplicate id, or the same id created twice concurrently.
      throw alreadyExists(`container ${id} already exists in this shim`);
    }
    this.creating.add(id);
    try {
      const spec = await loadSpec(bundle);
      const cls = classifyContainer(spec.annotations, id);
      const base = {
        id,
        namespace: this.deps.namespace,
        bundle,
        pid: this.deps.pid,
        stdio: input.stdio,
        createdAt: new Date().toISOString(),
        ...(cls.kind === 'single' ? {} : { sandboxId: cls.sandboxId }),
      };
      if (cls.kind === 'infra') return await this.addInfra(base, spec.annotations);

      const annotations =
        cls.kind === 'pod' ? inheritAnnotations(this.podAnnotations(cls.sandboxId), spec.annotations) : spec.annotations;
      const ann = parseAnnotations(annotations);
      for (const { key, reason } of ann.ignored) this.deps.log.info({ id, key }, `annotation ignored: ${reason}`);
      const hints = readEnvHints(spec.process?.env ?? []);

      // Everything set up from here on is undone if a later step fails: a failed Create leaves
      // no mount, no staged firmware and no micad instance behind.
      const undo: (() => Promise<unknown>)[] = [];
      try {
        let rootfs: string;
        let rootfsMount: string | undefined;
        if (input.rootfs.length > 0) {
          rootfs = path.join(bundle, 'rootfs');
          await mountRootfs(input.rootfs, rootfs);
          rootfsMount = rootfs;
          undo.push(() => unmountRootfs(rootfs));
        } else {
          rootfs = path.resolve(bundle, spec.root?.path ?? 'rootfs');
        }
        undo.push(() => this.deps.store.remove(id)); // staged firmware lives in the state dir
        const found = await findFirmware({
          rootfs,
          firmwarePath: ann.firmwarePath,
          sha256: ann.firmwareSha256,
          args: spec.process?.args,
          cwd: spec.process?.cwd,
        });
        const firmware = await stageFirmware(found, stateDir);
        // ped.conf names a file inside the image; micad reads host paths, and the rootfs may be
        // unmounted before it loads it — so it gets a staged copy beside the firmware (removed
        // with the container's state directory by store.remove, on failure and on delete).
        const pedestalConfig = ann.pedestalConfig
          ? await stagePedestalConfig(await findPedestalConfig(rootfs, ann.pedestalConfig), stateDir)
          : undefined;
        const resources = planCreateResources(spec.linux?.resources, this.deps.resources, {
          minMemoryMiB: ann.minMemoryMiB,
          maxVcpus: ann.maxVcpus,
        });
        const params: CreateParams = {
          name: instanceName(id),
          firmwarePath: firmware,
          pedestal: pedestalOnWire(choosePedestal(ann.pedestal, hints.pedestal, this.deps.pedestal)),
          ...(pedestalConfig ? { pedestalConfig } : {}),
          ...(ann.debug ? { debug: true } : {}),
          ...resources,
        };
        const container = new Container({
          ...base,
          kind: 'app',
          instance: params.name,
          firmware,
          ...(rootfsMount ? { rootfsMount } : {}),
        });
        this.extras.set(id, { resources });
        // Persist before micad knows the instance: a crash right after create still leaves a
        // record naming it, so `delete` removes it.
        await this.deps.store.save(this.record(container));
        await this.deps.mica.create(params);
        undo.push(() => this.deps.mica.remove(params.name));
        this.deps.containers.add(container);
        return container;
      } catch (err) {
        this.extras.delete(id);
        for (const step of undo.reverse()) {
          await step().catch((e: unknown) => this.deps.log.warn({ id, err: String(e) }, 'create: cleanup step failed'));
        }
        throw err;
      }
    } finally {
      this.creating.delete(id);
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
    if (container.kind === 'infra') {
      container.transition('running');
      await this.deps.store.save(this.record(container));
      return { container };
    }
    await this.deps.mica.start(container.instance);
    container.transition('running');
    await this.deps.store.save(this.record(container));
    const console = await this.waitForConsole(container);
    return console ? { container, console } : { container };
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
        if (container.kind === 'app' && this.deps.mica.exists(container.instance)) {
          this.monitor.unwatch(id);
          await this.deps.mica.stop(container.instance);
        }
        await this.exited(container, action.exitStatus);
    }
    return action.kind;
  }

  async pause(id: string): Promise<void> {
    const container = this.deps.containers.get(id);
    if (!container.canTransition('paused')) throw failedPrecondition(`container ${id} is ${container.state}: cannot pause`);
    if (container.kind === 'app') await this.deps.mica.pause(container.instance);
    container.transition('paused');
    await this.deps.store.save(this.record(container));
  }

  async resume(id: string): Promise<void> {
    const container = this.deps.containers.get(id);
    if (container.state !== 'paused') throw failedPrecondition(`container ${id} is ${container.state}: only a paused container can be resumed`);
    if (container.kind === 'app') await this.deps.mica.resume(container.instance);
    container.transition('running');
    await this.deps.store.save(this.record(container));
  }

  wait(id: string, signal?: AbortSignal): Promise<ExitInfo> {
    return this.deps.containers.get(id).waitExit(signal);
  }

  /** Removes everything of a stopped (or never started) container and forgets it. */
  async delete(id: string): Promise<ExitInfo & { pid: number }> {
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
    if (container.kind === 'app') {
      if (this.deps.mica.exists(container.instance)) await this.deps.mica.remove(container.instance);
      if (container.record.rootfsMount) await unmountRootfs(container.record.rootfsMount);
    }
    await this.deps.store.remove(id);
    this.deps.containers.remove(id);
    this.extras.delete(id);
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

  /** Applies OCI LinuxResources (JSON from the Update request) with micad `set` calls. */
  async update(id: string, resourcesJson: unknown): Promise<void> {
    const container = this.deps.containers.get(id);
    const res = parseLinuxResources(resourcesJson);
    if (container.kind !== 'app') return;
    if (container.state === 'stopped') throw failedPrecondition(`container ${id} has stopped: nothing to update`);
    const extras = this.extras.get(id) ?? {};
    const current = extras.resources ?? planCreateResources(undefined, this.deps.resources);
    const { calls, next } = planUpdate(res, current);
    for (const call of calls) await this.deps.mica.set(container.instance, call.key, call.value);
    this.extras.set(id, { ...extras, resources: next });
    await this.deps.store.save(this.record(container));
  }

  /**
   * A pod sandbox without a pause container (the Sandbox service's CreateSandbox, containerd 2.x
   * `sandboxer = "shim"`): registered as the pod's infra container, so Start/Kill/Wait/Delete,
   * stopping the whole pod and annotation inheritance behave exactly as for a pause container.
   */
  async createSandbox(input: { id: string; bundle: string; annotations: Record<string, string> }): Promise<Container> {
    const { id } = input;
    if (this.deps.containers.has(id) || this.creating.has(id)) throw alreadyExists(`sandbox ${id} already exists in this shim`);
    parseAnnotations(input.annotations); // a bad pod annotation fails here, not at every container
    const stdio = { stdin: '', stdout: '', stderr: '', terminal: false };
    const base = { id, namespace: this.deps.namespace, bundle: input.bundle, pid: this.deps.pid, stdio, createdAt: new Date().toISOString(), sandboxId: id };
    return this.addInfra(base, input.annotations);
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
   * are released; (4) onExit runs (the shim closes IO, then publishes TaskExit).
   */
  private exited(container: Container, exitStatus: number): Promise<void> {
    if (!container.markExited(exitStatus, new Date())) return this.exitPaths.get(container.id) ?? Promise.resolve();
    const path = this.finishExit(container, exitStatus);
    this.exitPaths.set(container.id, path);
    return path;
  }

  private async finishExit(container: Container, exitStatus: number): Promise<void> {
    this.monitor.unwatch(container.id);
    await this.deps.store
      .save(this.record(container))
      .catch((err: unknown) => this.deps.log.warn({ id: container.id, err: String(err) }, 'cannot persist exit'));
    container.releaseWaiters();
    this.deps.log.info({ id: container.id, exitStatus }, 'task exited');
    await this.deps.onExit(container).catch((err: unknown) =>
      this.deps.log.warn({ id: container.id, err: String(err) }, 'exit handler failed'),
    );
  }

  private async waitForConsole(container: Container): Promise<string | undefined> {
    const deadline = Date.now() + (this.deps.consoleTimeoutMs ?? 5_000);
    for (;;) {
      try {
        const status = await this.deps.mica.status(container.instance);
        if (status.console) return status.console;
        if (status.state !== 'Running') return undefined; // ended before it announced a console
      } catch (err) {
        this.deps.log.warn({ id: container.id, err: String(err) }, 'start: status query failed');
      }
      if (Date.now() > deadline) {
        this.deps.log.warn({ id: container.id }, 'start: the RTOS announced no console; running without IO');
        return undefined;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The pod's pause container (or Sandbox-service sandbox): nothing to run; its annotations are the pod's settings. */
  private async addInfra(base: Omit<ContainerRecord, 'kind' | 'instance' | 'state'>, annotations: Record<string, string>): Promise<Container> {
    this.extras.set(base.id, { annotations });
    const container = new Container({ ...base, kind: 'infra', instance: '' });
    await this.deps.store.save(container.toRecord());
    this.deps.containers.add(container);
    return container;
  }

  private podAnnotations(sandboxId: string): Record<string, string> {
    return this.extras.get(sandboxId)?.annotations ?? {};
  }

  private record(container: Container): ContainerRecord & { resources?: GuestResources } {
    const resources = this.extras.get(container.id)?.resources;
    return { ...container.toRecord(), ...(resources ? { resources } : {}) };
  }
}

/**
 * The pedestal: the annotation wins, then the image's MICRUN_PEDESTAL hint, then the config. An
 * unknown hint is an error rather than a silent fall-back to bare metal.
 */
function choosePedestal(annotation: Pedestal | undefined, hint: string | undefined, configured: string | undefined): Pedestal | '' {
  if (annotation) return annotation;
  if (hint !== undefined && hint !== '') {
    if (!isPedestal(hint)) throw invalidArgument(`image env MICRUN_PEDESTAL=${JSON.stringify(hint)} is not a pedestal micad knows`);
    return hint;
  }
  return configured && isPedestal(configured) ? configured : '';
}

const SIGKILL = 9;
const MICAD_NAME_MAX = 65;

/**
 * micad instance name: the container id, which is what operators see in `mica status` and in
 * Xen's domain list. micad takes at most 65 bytes; containerd allows ids up to 76, so a longer
 * id keeps a readable prefix and gets a hash of the whole id (stable, so `delete` finds it too —
 * it is also persisted in the record).
 */
export function instanceName(id: string): string {
  if (Buffer.byteLength(id) <= MICAD_NAME_MAX) return id;
  return `${id.slice(0, 40)}-${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}
