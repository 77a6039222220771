// Notices instances that ended on their own: the firmware returned (Stopped + exit code), the
// emulator/remote core failed (Error), or the instance vanished from micad. One poller for all
// watched containers; a round never starts before the previous one finished, so a slow micad
// can delay detection but never piles up requests. Detection only reports through onExit —
// the single exit path lives in Runtime.
import { Code, isCodedError } from '../errors';
import type { InstanceInfo, InstanceState, MicaClient } from '../mica/types';
import type { Container } from './container';

/** Exit status reported when the instance failed (QEMU died, remote core error). */
export const EXIT_INSTANCE_FAILED = 255;
/** Exit status reported when the instance disappeared from micad (removed out of band, micad restarted). */
export const EXIT_INSTANCE_GONE = 255;

export type Observation =
  | { kind: 'state'; state: InstanceState; exitCode?: number }
  | { kind: 'gone' };

/** Pure: the exit status an observation implies for a started instance, or undefined if alive. */
export function exitStatusOf(obs: Observation): number | undefined {
  if (obs.kind === 'gone') return EXIT_INSTANCE_GONE;
  switch (obs.state) {
    case 'Running':
    case 'Suspended':
    case 'Ready':
    case 'Configured':
      return undefined;
    case 'Stopped':
    case 'Offline': // micad reports a self-shutdown RTOS (PSCI CPU_OFF) as Offline
      return obs.exitCode ?? 0;
    case 'Error':
      return obs.exitCode ?? EXIT_INSTANCE_FAILED;
  }
}

export interface ExitMonitorDeps {
  mica: MicaClient;
  onExit: (container: Container, exitStatus: number) => void;
  intervalMs?: number;
  log?: { warn(obj: object, msg: string): void };
}

/** First poll after watch(); each round doubles the delay up to intervalMs. Firmware that
 * returns at once (a run-to-completion `ctr run --rm`) is then seen within ~10–20 ms instead of a
 * full interval, for a handful of extra status calls per start. */
const FIRST_POLL_MS = 10;

export class ExitMonitor {
  private readonly watched = new Map<string, Container>();
  private timer?: NodeJS.Timeout;
  private timerDue = 0;
  private nextDelayMs: number;
  /** A round is in flight: the next one is scheduled when it ends, never beside it. */
  private running = false;
  private useInfo = true;
  private closed = false;
  private readonly intervalMs: number;

  constructor(private readonly deps: ExitMonitorDeps) {
    this.intervalMs = deps.intervalMs ?? 250;
    this.nextDelayMs = this.intervalMs;
  }

  watch(container: Container): void {
    if (this.closed || container.kind !== 'app') return;
    this.watched.set(container.id, container);
    this.nextDelayMs = Math.min(FIRST_POLL_MS, this.intervalMs);
    // A round already waiting a full interval is moved up (one running now reschedules itself).
    if (this.timer && this.timerDue - Date.now() > this.nextDelayMs) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.schedule();
  }

  /** Stops watching `id`; true when it was being watched. */
  unwatch(id: string): boolean {
    return this.watched.delete(id);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer || this.running || this.closed || this.watched.size === 0) return;
    this.timerDue = Date.now() + this.nextDelayMs;
    this.timer = setTimeout(() => void this.round(), this.nextDelayMs);
    this.nextDelayMs = Math.min(this.nextDelayMs * 2, this.intervalMs);
  }

  private async round(): Promise<void> {
    this.timer = undefined;
    this.running = true;
    const batch = [...this.watched.values()].filter((c) => c.state === 'running' || c.state === 'paused');
    await Promise.all(
      batch.map(async (container) => {
        const obs = await this.observe(container.instance).catch((err: unknown) => {
          this.deps.log?.warn({ id: container.id, err: String(err) }, 'exit monitor: cannot query micad');
          return undefined;
        });
        if (!obs) return;
        const status = exitStatusOf(obs);
        // The container may have been killed while we asked: its exit was then reported by Kill.
        if (status === undefined || !this.watched.has(container.id) || container.state === 'stopped') return;
        this.watched.delete(container.id);
        this.deps.onExit(container, status);
      }),
    );
    for (const [id, c] of this.watched) if (c.state === 'stopped') this.watched.delete(id);
    this.running = false;
    this.schedule();
  }

  private async observe(instance: string): Promise<Observation> {
    if (!this.deps.mica.exists(instance)) return { kind: 'gone' };
    if (this.useInfo) {
      try {
        const info: InstanceInfo = await this.deps.mica.info(instance, { timeoutMs: 2_000 });
        return { kind: 'state', state: info.state, exitCode: info.exitCode };
      } catch (err) {
        if (!isCodedError(err) || err.code !== Code.Unimplemented) throw err;
        this.useInfo = false; // a real micad: status is all it can tell
      }
    }
    const status = await this.deps.mica.status(instance, { timeoutMs: 2_000 });
    return { kind: 'state', state: status.state };
  }
}
