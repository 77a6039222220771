// One run of a `binary://` logging binary, under containerd's contract (runc shim
// process/io.go + core/runtime/v2/logging): argv = path, k1, v1, ...; the environment is ONLY
// CONTAINER_ID and CONTAINER_NAMESPACE; fd 3 carries the task's stdout, fd 4 its stderr, and the
// binary reports ready on fd 5 by writing a byte and/or closing it (EOF counts as ready, as for
// `binary://`). nerdctl re-executes itself this way (`?_NERDCTL_INTERNAL_LOGGING=<dir>`).
//
// fds 3/4/5 are libuv socketpairs (spawn stdio 'pipe'), not pipe(2) pairs: readers such as
// Go's os.NewFile(3).Read cannot tell the difference, and Node can create them without native
// code. Restarts are not decided here (logger-supervisor.ts does that).

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import { deadlineExceeded, invalidArgument } from '../../errors';

const access = promisify(fs.access);

export interface LoggingBinarySpec {
  path: string;
  args: readonly string[];
  containerId: string;
  namespace: string;
  /** How long the binary may take to report ready on fd 5 (containerd does not bound it; we
   * do, so a hung logger fails Create instead of hanging it). */
  readyTimeoutMs: number;
}

export interface StopTimings {
  /** Wait for the binary to exit by itself after its pipes hit EOF, before SIGTERM. */
  graceMs: number;
  /** Wait after SIGTERM before SIGKILL (containerd: 12 s). */
  killAfterMs: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LoggingBinary {
  /** Resolves when the process has exited and its pipes are closed. */
  readonly exited: Promise<ExitInfo>;
  private stopping: Promise<ExitInfo> | undefined;
  private hasExited = false;

  private constructor(
    private readonly child: ChildProcess,
    /** Write end of the stdout pipe (the binary's fd 3). */
    readonly stdout: Socket,
    /** Write end of the stderr pipe (the binary's fd 4). */
    readonly stderr: Socket,
    exited: Promise<ExitInfo>,
  ) {
    this.exited = exited.then((info) => {
      this.hasExited = true;
      return info;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.hasExited;
  }

  /** Spawns the binary and waits for ready. On failure nothing is left running or open. */
  static async start(spec: LoggingBinarySpec): Promise<LoggingBinary> {
    try {
      await access(spec.path, fs.constants.X_OK);
    } catch (err) {
      throw invalidArgument(`logging binary "${spec.path}" is not an executable file: ${(err as Error).message}`, err);
    }
    const child = spawn(spec.path, [...spec.args], {
      env: { CONTAINER_ID: spec.containerId, CONTAINER_NAMESPACE: spec.namespace },
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
    const [stdout, stderr, ready] = [3, 4, 5].map((fd) => child.stdio[fd] as Socket) as [Socket, Socket, Socket];
    for (const socket of [stdout, stderr, ready]) {
      // EPIPE/ECONNRESET when the binary dies: its exit is what we act on, not the socket error.
      socket.on('error', () => socket.destroy());
    }
    // What the binary writes back on fd 3/4 is not ours to read; stop libuv reading it.
    stdout.pause();
    stderr.pause();
    const exited = new Promise<ExitInfo>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        for (const socket of [stdout, stderr, ready]) socket.destroy();
        resolve({ code, signal });
      };
      child.once('exit', done);
      child.once('error', () => {
        if (child.pid === undefined) done(null, null);
      });
    });
    const binary = new LoggingBinary(child, stdout, stderr, exited);
    try {
      await waitReady(child, ready, spec);
    } catch (err) {
      child.kill('SIGKILL');
      await binary.exited;
      throw err;
    }
    ready.destroy();
    return binary;
  }

  /** EOF on fd 3/4, then wait graceMs, SIGTERM, wait killAfterMs, SIGKILL. Idempotent. */
  stop(timings: StopTimings): Promise<ExitInfo> {
    this.stopping ??= this.runStop(timings);
    return this.stopping;
  }

  private async runStop({ graceMs, killAfterMs }: StopTimings): Promise<ExitInfo> {
    this.stdout.end();
    this.stderr.end();
    if (await exitsWithin(this.exited, graceMs)) return this.exited;
    this.child.kill('SIGTERM');
    if (await exitsWithin(this.exited, killAfterMs)) return this.exited;
    this.child.kill('SIGKILL');
    return this.exited;
  }
}

function waitReady(child: ChildProcess, ready: Socket, spec: LoggingBinarySpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      finish(
        deadlineExceeded(
          `logging binary "${spec.path}" did not signal ready on fd 5 within ${spec.readyTimeoutMs} ms ` +
            '(it must write a byte to fd 5 or close it once it reads fds 3 and 4)',
        ),
      );
    }, spec.readyTimeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      ready.removeAllListeners('data').removeAllListeners('end').removeAllListeners('close');
      child.removeListener('error', onSpawnError);
      if (err) reject(err);
      else resolve();
    };
    const onSpawnError = (err: Error) =>
      finish(invalidArgument(`cannot start logging binary "${spec.path}": ${err.message}`, err));
    child.once('error', onSpawnError);
    ready.once('data', () => finish());
    ready.once('end', () => finish());
    // 'close' without 'end' also happens when the spawn itself failed (no pid): not ready.
    ready.once('close', () => (child.pid === undefined ? undefined : finish()));
  });
}

function exitsWithin(exited: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void exited.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
