// One container of the daemon: identity, what was set up for it (instance, staged firmware,
// rootfs mount), and its lifecycle state. The state machine is the TRANSITIONS table; every
// change goes through transition(), which refuses an illegal edge with FailedPrecondition.
// A Container never calls back into the ContainerRegistry or the Runtime (no cycle, unlike the Go micrun).
import { failedPrecondition } from '../errors';
import type { GuestResources } from '../oci/resources';

export type ContainerState = 'created' | 'running' | 'paused' | 'stopped';

/** Legal edges. `stopped` is final: a micad instance is never restarted under the same task. */
export const TRANSITIONS: Readonly<Record<ContainerState, readonly ContainerState[]>> = {
  created: ['running', 'stopped'],
  running: ['paused', 'stopped'],
  paused: ['running', 'stopped'],
  stopped: [],
};

/** infra = the CRI pod sandbox ("pause") container: no firmware, no micad traffic. */
export type ContainerKind = 'infra' | 'app';

export interface Stdio {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export interface ExitInfo {
  exitStatus: number;
  exitedAt: Date;
}

/** What is persisted (state.json): enough for `delete` to clean up after a dead daemon. */
export interface ContainerRecord {
  id: string;
  namespace: string;
  bundle: string;
  kind: ContainerKind;
  /** micad instance name ("" for infra containers). */
  instance: string;
  state: ContainerState;
  pid: number;
  stdio: Stdio;
  /** Absolute path of the staged firmware copy, if any. */
  firmware?: string;
  /** The rootfs mount point this shim mounted (and must unmount), if any. */
  rootfsMount?: string;
  /** Pod sandbox id for CRI containers. */
  sandboxId?: string;
  /** The guest resources micad applied (app containers); Update plans against these. */
  resources?: GuestResources;
  /** The pod's annotations, which its containers inherit (infra containers). */
  annotations?: Record<string, string>;
  exitStatus?: number;
  exitedAt?: string;
  createdAt: string;
}

export class Container {
  private current: ContainerState;
  private exit?: ExitInfo;
  private guest?: GuestResources;
  private readonly waiters = new Set<(exit: ExitInfo) => void>();
  /** Set by releaseWaiters(): Wait must not answer between markExited() and persistence. */
  private released = false;

  constructor(readonly record: Readonly<Omit<ContainerRecord, 'state' | 'exitStatus' | 'exitedAt' | 'resources'>> & {
    state?: ContainerState;
    exitStatus?: number;
    exitedAt?: string;
    resources?: GuestResources;
  }) {
    this.current = record.state ?? 'created';
    this.guest = record.resources;
    if (record.exitStatus !== undefined) {
      this.exit = { exitStatus: record.exitStatus, exitedAt: new Date(record.exitedAt ?? Date.now()) };
      this.released = true;
    }
  }

  get id(): string {
    return this.record.id;
  }
  get kind(): ContainerKind {
    return this.record.kind;
  }
  get instance(): string {
    return this.record.instance;
  }
  get pid(): number {
    return this.record.pid;
  }
  get state(): ContainerState {
    return this.current;
  }
  get exitInfo(): ExitInfo | undefined {
    return this.exit;
  }
  /** What micad has applied so far; set as each change is confirmed (see Runtime.update). */
  get resources(): GuestResources | undefined {
    return this.guest;
  }
  set resources(applied: GuestResources | undefined) {
    this.guest = applied;
  }

  canTransition(to: ContainerState): boolean {
    return TRANSITIONS[this.current].includes(to);
  }

  transition(to: ContainerState): void {
    if (!this.canTransition(to)) {
      throw failedPrecondition(
        `container ${this.id}${this.record.sandboxId ? ` (pod ${this.record.sandboxId})` : ''}: ` +
          `cannot go from ${this.current} to ${to}`,
      );
    }
    this.current = to;
  }

  /** Moves to stopped with the exit status; false when it had already stopped (first exit wins). */
  markExited(exitStatus: number, exitedAt: Date): boolean {
    if (this.current === 'stopped') return false;
    this.transition('stopped');
    this.exit = { exitStatus, exitedAt };
    return true;
  }

  /** Resolves pending and future waiters; call after the exit has been persisted. */
  releaseWaiters(): void {
    const exit = this.exit;
    if (!exit) return;
    this.released = true;
    for (const resolve of this.waiters) resolve(exit);
    this.waiters.clear();
  }

  /** Blocks until the container has stopped and its exit is persisted; abortable. */
  waitExit(signal?: AbortSignal): Promise<ExitInfo> {
    if (this.released && this.exit) return Promise.resolve(this.exit);
    return new Promise<ExitInfo>((resolve, reject) => {
      const onAbort = () => {
        this.waiters.delete(done);
        reject(signal?.reason ?? new Error('wait aborted'));
      };
      const done = (exit: ExitInfo) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(exit);
      };
      if (signal?.aborted) return onAbort();
      this.waiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  toRecord(): ContainerRecord {
    const { state: _s, exitStatus: _e, exitedAt: _t, resources: _r, ...rest } = this.record;
    return {
      ...rest,
      state: this.current,
      ...(this.guest ? { resources: this.guest } : {}),
      ...(this.exit ? { exitStatus: this.exit.exitStatus, exitedAt: this.exit.exitedAt.toISOString() } : {}),
    };
  }
}
