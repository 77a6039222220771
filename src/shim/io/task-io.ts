// A task's stdio, wired to its RTOS console. Opened at Create (so a bad stdio URI fails
// Create and the client's fifos are opened before it waits on them), attached to the console
// at Start, closed when the task exits (so `ctr run` / `task.Delete`'s io.Wait() return).
//
// Data paths, all raw bytes:
//   console (pty slave) ──► stdout sink (fifo | file:// | binary:// fd 3)
//   stdin fifo ──► console        (StdinFeed; its lifecycle is the table in stdin-lifecycle.ts)
// The RTOS has one console, so all its output goes to stdout; stderr is opened (the client
// does not wait for nothing) and ended at close. With terminal=true the client passes no
// stderr and the same raw bytes flow; Ctrl-C (0x03) is just a byte for the firmware — only
// Kill stops a task.

import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { failedPrecondition, internal, invalidArgument } from '../../errors';
import { closeWritable } from './close-writable';
import { ConsolePort } from './console-port';
import { openFifoReader, openFifoWriter } from './fifo';
import { openFileSink } from './file-sink';
import { defaultLoggerPolicy, LoggerSupervisor, type LoggerPolicy } from './logger-supervisor';
import { pump, type Pump } from './pump';
import { StdinFeed } from './stdin-feed';
import { parseStdioUri, type StdioName, type StdioTarget } from './stdio-uri';

export interface StdioSpec {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export interface TaskIOContext {
  containerId: string;
  namespace: string;
  /** The daemon's logger; TaskIO's lines add `id: containerId` (the daemon's base names no container). */
  logger: Logger;
}

export interface TaskIOOptions {
  /** close(): console output is drained until it has been quiet this long… */
  drainQuietMs: number;
  /** …or this long at most. */
  drainMaxMs: number;
  /** close(): how long an output may take to flush to its reader before it is cut off. */
  flushTimeoutMs: number;
  /** closeStdin(): stdin is read on until EOF or this long without bytes. */
  stdinQuietMs: number;
  logger: LoggerPolicy;
}

export const defaultTaskIOOptions: TaskIOOptions = {
  drainQuietMs: 50,
  drainMaxMs: 200,
  flushTimeoutMs: 1_000,
  stdinQuietMs: 100,
  logger: defaultLoggerPolicy,
};

export interface TaskIOStats {
  /** Console bytes read (all delivered to stdout, or discarded when stdout is ""). */
  consoleBytes: number;
  /** stdin bytes written to the console. */
  stdinBytes: number;
  /** A console is attached and has not hung up (EIO when micad closes the pty master). */
  attached: boolean;
}

export class TaskIO {
  private console: ConsolePort | undefined;
  private outputPump: Pump | undefined;
  private readonly stdin: StdinFeed;
  private consoleBytes = 0;
  private lastConsoleData = 0;
  private size: { cols: number; rows: number } | undefined;
  private closing: Promise<void> | undefined;
  private loggersStopped: Promise<void> = Promise.resolve();

  private constructor(
    private readonly ctx: TaskIOContext,
    private readonly options: TaskIOOptions,
    stdin: Readable | undefined,
    /** The stdin fifo's path, reopened when its writer goes away without CloseIO. */
    stdinPath: string | undefined,
    private readonly stdout: Writable | undefined,
    private readonly stderr: Writable | undefined,
    private readonly loggers: LoggerSupervisor[],
  ) {
    this.stdin = new StdinFeed(stdin, {
      liveConsole: () => (this.outputPump ? this.console?.stream : undefined),
      // Only a feed that had a stream reopens, and a stream comes with its path.
      reopen: () => openFifoReader(stdinPath!, 'stdin fifo'),
      quietMs: options.stdinQuietMs,
      logger: ctx.logger,
    });
  }

  /** Parses and opens the stdio. Throws CodedError(InvalidArgument) naming a bad URI or path;
   * on any failure everything opened so far is closed again. */
  static async open(stdio: StdioSpec, daemonCtx: TaskIOContext, options: Partial<TaskIOOptions> = {}): Promise<TaskIO> {
    const ctx = { ...daemonCtx, logger: daemonCtx.logger.child({ id: daemonCtx.containerId }) };
    const opts = { ...defaultTaskIOOptions, ...options };
    const targets = {
      stdin: parseStdioUri('stdin', stdio.stdin),
      stdout: parseStdioUri('stdout', stdio.stdout),
      stderr: parseStdioUri('stderr', stdio.stderr),
    };
    const opened: { close(): Promise<void> }[] = [];
    const loggers: LoggerSupervisor[] = [];
    const openOutput = async (name: StdioName, target: StdioTarget, sharedWith?: Sink): Promise<Sink | undefined> => {
      const sink = sharedWith ?? (await openSink(name, target, ctx, opts));
      if (!sink) return undefined;
      if (!sharedWith) {
        opened.push({ close: () => closeSink(sink, opts) });
        if (sink.logger) loggers.push(sink.logger);
      }
      return sink;
    };
    try {
      const stdout = await openOutput('stdout', targets.stdout);
      // stdout == stderr for file:// and binary://: one file, one logger (fd 4 for stderr).
      const shared = stdio.stderr === stdio.stdout && targets.stderr.kind !== 'fifo' ? stdout : undefined;
      const stderr = await openOutput('stderr', targets.stderr, shared);
      const stdinPath = targets.stdin.kind === 'fifo' ? targets.stdin.path : undefined;
      const stdin = stdinPath ? await openFifoReader(stdinPath, 'stdin fifo') : undefined;
      const io = new TaskIO(ctx, opts, stdin, stdinPath, stdout?.stdout, shared ? shared.stderr : stderr?.stdout, loggers);
      ctx.logger.debug({ ...stdio }, 'task io opened');
      return io;
    } catch (err) {
      await Promise.all(opened.map((o) => o.close()));
      throw err;
    }
  }

  /** Opens the console tty (raw) and starts copying both ways. Bytes the console produces from
   * now on reach stdout or wait in bounded buffers (backpressure pauses the console). Attaching
   * to another path (the instance came back with a new console) replaces the old console. */
  async attach(consolePath: string): Promise<void> {
    if (this.closing) throw failedPrecondition(`task ${this.ctx.containerId}: io is closed; cannot attach console`);
    // Same path and still alive: nothing to do. A hung-up console may come back under the
    // same path (/dev/ttyRPMSG0 is reused), so that one is reopened.
    if (this.console?.path === consolePath && this.outputPump) return;
    await this.detachConsole();
    const port = await ConsolePort.open(consolePath);
    if (this.closing) {
      await port.close();
      throw failedPrecondition(`task ${this.ctx.containerId}: io closed while attaching console`);
    }
    this.console = port;
    if (port.blockingWrites) {
      this.ctx.logger.warn({ consolePath }, 'console tty could not be reopened non-blocking; input writes may block');
    }
    // After a pump stops, later stream errors (EIO when micad closes the pty master) need a home.
    port.stream.on('error', (err) => this.ctx.logger.debug({ err }, 'console stream error'));
    if (this.size) port.resize(this.size.cols, this.size.rows);
    this.lastConsoleData = Date.now();
    this.outputPump = pump(port.stream, this.stdout, {
      onData: (chunk) => {
        this.consoleBytes += chunk.length;
        this.lastConsoleData = Date.now();
      },
      onEnd: (reason, err) => {
        if (reason === 'stopped') return;
        // The console hung up. stdin stays open but unread until a console is attached again
        // (the instance restarted): typed bytes wait in the fifo instead of being lost.
        this.ctx.logger.info({ reason, err: err?.message }, 'RTOS console closed');
        this.outputPump = undefined;
        this.stdin.consoleGone();
      },
    });
    this.stdin.consoleAttached();
    this.ctx.logger.debug({ consolePath }, 'console attached');
  }

  /** ResizePty. Before attach the size is remembered and applied at attach. */
  resize(cols: number, rows: number): void {
    if (!isWinsize(cols) || !isWinsize(rows)) {
      throw invalidArgument(`ResizePty ${cols}x${rows}: width and height must be integers 0–65535`);
    }
    this.size = { cols, rows };
    if (!this.console || this.closing) return;
    try {
      this.console.resize(cols, rows);
    } catch (err) {
      throw internal(`resize console of task ${this.ctx.containerId}: ${(err as Error).message}`, err);
    }
  }

  /** CloseIO{stdin}: stdin is read on until EOF or stdinQuietMs without bytes (what the
   * client wrote before closing still reaches the console), then stdin is closed. The
   * console and the task stay as they are: the RTOS console has no notion of EOF. */
  closeStdin(): void {
    this.stdin.closeIO();
  }

  /** Task exited: drain console output already produced, close the console, end every output
   * (clients see EOF), start stopping logging binaries. Idempotent; never throws. */
  close(): Promise<void> {
    this.closing ??= this.runClose();
    return this.closing;
  }

  /** Resolves when every logging binary has exited (up to grace + 12 s after close()).
   * Only tests call it (fd and log-file checks after a logger is gone): the daemon never waits
   * for loggers, so a task's exit is not held up by a slow one. */
  whenLoggersStopped(): Promise<void> {
    return this.loggersStopped;
  }

  get stats(): TaskIOStats {
    return { consoleBytes: this.consoleBytes, stdinBytes: this.stdin.bytes, attached: this.outputPump !== undefined };
  }

  /** pids of running logging binaries (only tests read them today). */
  get loggerPids(): number[] {
    return this.loggers.map((l) => l.pid).filter((pid): pid is number => pid !== undefined);
  }

  private async detachConsole(): Promise<void> {
    this.outputPump?.stop();
    this.outputPump = undefined;
    this.stdin.consoleGone();
    const port = this.console;
    this.console = undefined;
    await port?.close();
  }

  private async runClose(): Promise<void> {
    this.stdin.taskExit();
    await this.drainConsole();
    await this.detachConsole();
    const outputs = new Set([this.stdout, this.stderr].filter((w): w is Writable => w !== undefined));
    await Promise.all([...outputs].map((w) => closeWritable(w, this.options.flushTimeoutMs)));
    this.loggersStopped = Promise.all(this.loggers.map((l) => l.stop())).then(() => undefined);
    this.ctx.logger.debug({ ...this.stats }, 'task io closed');
  }

  /** Waits until the console has been quiet for drainQuietMs, at most drainMaxMs. */
  private async drainConsole(): Promise<void> {
    if (!this.console) return;
    const deadline = Date.now() + this.options.drainMaxMs;
    for (;;) {
      const now = Date.now();
      const quietFor = now - this.lastConsoleData;
      if (quietFor >= this.options.drainQuietMs || now >= deadline) return;
      await sleep(Math.min(this.options.drainQuietMs - quietFor, deadline - now));
    }
  }
}

/** An opened output: the Writable console output goes to, and for binary:// the supervisor
 * whose fd 4 Writable serves a shared stderr. */
interface Sink {
  stdout: Writable;
  stderr?: Writable;
  logger?: LoggerSupervisor;
}

async function openSink(
  name: StdioName,
  target: StdioTarget,
  ctx: TaskIOContext,
  opts: TaskIOOptions,
): Promise<Sink | undefined> {
  switch (target.kind) {
    case 'none':
      return undefined;
    case 'fifo':
      return { stdout: await openFifoWriter(target.path, `${name} fifo`) };
    case 'file': {
      const file = await openFileSink(target.path, name);
      return { stdout: file, stderr: file };
    }
    case 'binary': {
      const logger = await LoggerSupervisor.start(
        { path: target.path, args: target.args, containerId: ctx.containerId, namespace: ctx.namespace },
        opts.logger,
        ctx.logger.child({ logger: target.path }),
      );
      // A binary named only by stderr still gets its bytes on fd 4, where it expects them.
      return name === 'stdout' ? { stdout: logger.stdout, stderr: logger.stderr, logger } : { stdout: logger.stderr, logger };
    }
  }
}

async function closeSink(sink: Sink, opts: TaskIOOptions): Promise<void> {
  await closeWritable(sink.stdout, opts.flushTimeoutMs);
  if (sink.stderr && sink.stderr !== sink.stdout) await closeWritable(sink.stderr, opts.flushTimeoutMs);
  // Not awaited: a failed Create must not wait out a logger's SIGTERM grace.
  void sink.logger?.stop();
}

const isWinsize = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffff;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
