// Keeps a `binary://` logging binary running for the life of a task and gives the console
// pump two Writables (stdout → fd 3, stderr → fd 4) that survive the binary dying.
//
// Policy (docs/io.md): when the binary exits while the task runs, log it, restart it after a
// backoff (restartBackoffMs, doubled each time) at most maxRestarts times per task. While it is
// down, up to holdBytes of console output are held and delivered to the next run; beyond that
// (and for good once the restarts are used up) output to it is dropped and counted — the
// console itself never stalls on a dead logger, so stdin and the task keep going.
// Ordering invariant: in state 'up' each chunk is handed to the socket before the next one is
// accepted (the Writable calls write() one chunk at a time), so restarts never reorder bytes.

import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { LoggingBinary, type ExitInfo, type LoggingBinarySpec, type StopTimings } from './logging-binary';

export interface LoggerPolicy {
  readyTimeoutMs: number;
  maxRestarts: number;
  restartBackoffMs: number;
  holdBytes: number;
  stop: StopTimings;
}

export const defaultLoggerPolicy: LoggerPolicy = {
  readyTimeoutMs: 10_000,
  maxRestarts: 3,
  restartBackoffMs: 500,
  holdBytes: 256 * 1024,
  stop: { graceMs: 1_000, killAfterMs: 12_000 },
};

type Channel = 'stdout' | 'stderr';
type State = 'up' | 'restarting' | 'gone' | 'stopped';

export class LoggerSupervisor {
  readonly stdout: Writable;
  readonly stderr: Writable;
  private state: State = 'up';
  private restarts = 0;
  private held: { channel: Channel; chunk: Buffer }[] = [];
  private heldBytes = 0;
  private droppedBytes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private starting: Promise<LoggingBinary | undefined> | undefined;
  private stopped: Promise<void> | undefined;
  /** Completion of the write each channel has in flight to the current binary (at most one:
   * a Writable hands over the next chunk only after this one is done). */
  private readonly inFlight: Record<Channel, (() => void) | undefined> = { stdout: undefined, stderr: undefined };

  private constructor(
    private current: LoggingBinary,
    private readonly spec: LoggingBinarySpec,
    private readonly policy: LoggerPolicy,
    private readonly log: Logger,
  ) {
    this.stdout = this.channel('stdout');
    this.stderr = this.channel('stderr');
    this.watch(current);
  }

  /** Starts the binary and waits for ready; errors (not executable, ready timeout) propagate. */
  static async start(
    spec: Omit<LoggingBinarySpec, 'readyTimeoutMs'>,
    policy: LoggerPolicy,
    log: Logger,
  ): Promise<LoggerSupervisor> {
    const full = { ...spec, readyTimeoutMs: policy.readyTimeoutMs };
    const binary = await LoggingBinary.start(full);
    log.debug({ pid: binary.pid, path: spec.path }, 'logging binary ready');
    return new LoggerSupervisor(binary, full, policy, log);
  }

  /** pid of the current binary while it runs (also while it is being stopped). */
  get pid(): number | undefined {
    return this.current.running ? this.current.pid : undefined;
  }

  get stats(): { restarts: number; droppedBytes: number; state: State } {
    return { restarts: this.restarts, droppedBytes: this.droppedBytes, state: this.state };
  }

  /** EOF to the binary, then SIGTERM/SIGKILL per policy.stop. Resolves once it has exited —
   * which may take graceMs + killAfterMs, so callers that must not wait do not await it. */
  stop(): Promise<void> {
    this.stopped ??= this.runStop();
    return this.stopped;
  }

  private async runStop(): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.restartTimer);
    this.held = [];
    const binary = (await this.starting) ?? this.current;
    await binary.stop(this.policy.stop);
    if (this.droppedBytes > 0) {
      this.log.warn({ droppedBytes: this.droppedBytes }, 'console output dropped while the logging binary was down');
    }
  }

  private channel(channel: Channel): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => this.forward(channel, chunk, done),
    });
  }

  private forward(channel: Channel, chunk: Buffer, done: () => void): void {
    const socket = this.current[channel];
    if (this.state === 'up' && !socket.destroyed) {
      // A binary dying with this write in flight must not wedge the pump: onExit completes the
      // write still pending on each channel. (One reaction per binary, registered in watch() —
      // not one per chunk on `exited`, which retained every chunk's closure until the binary
      // exited: ~244 bytes per console write.)
      const once = () => {
        if (this.inFlight[channel] !== once) return;
        this.inFlight[channel] = undefined;
        done();
      };
      this.inFlight[channel] = once;
      socket.write(chunk, once);
      return;
    }
    if (this.state !== 'gone' && this.state !== 'stopped' && this.heldBytes + chunk.length <= this.policy.holdBytes) {
      this.held.push({ channel, chunk });
      this.heldBytes += chunk.length;
    } else {
      this.droppedBytes += chunk.length;
    }
    done();
  }

  private watch(binary: LoggingBinary): void {
    void binary.exited.then((info) => this.onExit(binary, info));
  }

  private onExit(binary: LoggingBinary, info: ExitInfo): void {
    if (binary !== this.current) return;
    this.inFlight.stdout?.();
    this.inFlight.stderr?.();
    if (this.state === 'stopped') return;
    if (this.restarts >= this.policy.maxRestarts) {
      this.state = 'gone';
      this.droppedBytes += this.heldBytes;
      this.held = [];
      this.heldBytes = 0;
      this.log.error(
        { ...info, restarts: this.restarts, path: this.spec.path },
        'logging binary exited again; restarts used up, its console output is dropped from now on',
      );
      return;
    }
    this.state = 'restarting';
    const delay = this.policy.restartBackoffMs * 2 ** this.restarts;
    this.restarts += 1;
    this.log.warn(
      { ...info, restart: this.restarts, of: this.policy.maxRestarts, inMs: delay, path: this.spec.path },
      'logging binary exited while the task runs; restarting it',
    );
    this.restartTimer = setTimeout(() => this.restart(), delay);
  }

  private restart(): void {
    this.starting = LoggingBinary.start(this.spec).then(
      (binary) => {
        this.starting = undefined;
        if (this.state === 'stopped') return binary;
        this.current = binary;
        this.state = 'up';
        this.watch(binary);
        for (const { channel, chunk } of this.held) binary[channel].write(chunk);
        this.held = [];
        this.heldBytes = 0;
        this.log.info({ pid: binary.pid, restart: this.restarts }, 'logging binary restarted');
        return binary;
      },
      (err: unknown) => {
        this.starting = undefined;
        if (this.state === 'stopped') return undefined;
        this.log.error({ err, restart: this.restarts }, 'logging binary failed to restart');
        // Same bookkeeping as an exit: try again while restarts remain, else give up.
        this.onExit(this.current, { code: null, signal: null });
        return undefined;
      },
    );
  }
}
