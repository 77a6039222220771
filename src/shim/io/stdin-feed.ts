// The stdin fifo → RTOS console direction of a task's IO. What happens when is the table in
// stdin-lifecycle.ts; this class holds the one `state`, the fifo's read side, the pump and the
// quiet timer, and runs the table's actions. TaskIO tells it about the console and about CloseIO
// and exit; the pump tells it about data, EOF and read errors.

import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { pump, type Pump } from './pump';
import { stdinTransition, type StdinAction, type StdinEvent, type StdinState } from './stdin-lifecycle';

export interface StdinFeedDeps {
  /** The console input goes to while one is attached and alive; undefined otherwise. */
  liveConsole(): Writable | undefined;
  /** Opens a fresh read side of the same fifo (after its writer went away without CloseIO). */
  reopen(): Promise<Readable>;
  /** Draining after CloseIO ends after this long without bytes. */
  quietMs: number;
  logger: Logger;
}

export class StdinFeed {
  private current: StdinState;
  private inputPump: Pump | undefined;
  private quietTimer: NodeJS.Timeout | undefined;
  private copied = 0;

  /** `stream`: the fifo's read side, opened and paused; undefined when the spec has no stdin. */
  constructor(
    private stream: Readable | undefined,
    private readonly deps: StdinFeedDeps,
  ) {
    this.current = stream ? 'waiting' : 'none';
    if (stream) this.watchErrors(stream);
  }

  get state(): StdinState {
    return this.current;
  }

  /** stdin bytes written to the console. */
  get bytes(): number {
    return this.copied;
  }

  consoleAttached(): void {
    this.raise('console-attached');
  }

  consoleGone(): void {
    this.raise('console-gone');
  }

  closeIO(): void {
    this.raise('close-io');
  }

  taskExit(): void {
    this.raise('task-exit');
  }

  private raise(event: StdinEvent, detail: { err?: Error; fresh?: Readable } = {}): void {
    const step = stdinTransition(this.current, event);
    if (!step) return;
    const from = this.current;
    this.current = step.to;
    if (step.log) this.deps.logger[step.log.level]({ err: detail.err?.message }, step.log.message);
    else if (from !== step.to) this.deps.logger.debug({ from, to: step.to, event }, 'stdin state changed');
    for (const action of step.actions) this.run(action, detail.fresh);
  }

  private run(action: StdinAction, fresh: Readable | undefined): void {
    switch (action) {
      case 'start-pump':
        return this.startPump();
      case 'stop-pump':
        clearTimeout(this.quietTimer);
        this.inputPump?.stop();
        this.inputPump = undefined;
        return;
      case 'arm-quiet-timer':
        clearTimeout(this.quietTimer);
        this.quietTimer = setTimeout(() => this.raise('quiet'), this.deps.quietMs);
        return;
      case 'close-stream':
        this.stream?.destroy();
        this.stream = undefined;
        return;
      case 'reopen-fifo':
        this.deps.reopen().then(
          (stream) => this.raise('reopened', { fresh: stream }),
          (err: Error) => this.raise('reopen-failed', { err }),
        );
        return;
      case 'adopt-stream':
        this.stream = fresh;
        if (fresh) this.watchErrors(fresh);
        return;
      case 'drop-stream':
        fresh?.destroy();
        return;
      case 'resume-if-console':
        if (this.deps.liveConsole()) this.raise('console-attached');
        return;
    }
  }

  private startPump(): void {
    const stream = this.stream;
    const target = this.deps.liveConsole();
    if (!stream || !target) return;
    this.inputPump = pump(stream, target, {
      onData: (chunk) => {
        this.copied += chunk.length;
        this.raise('data');
      },
      onEnd: (reason, err) => {
        if (reason === 'stopped') return; // we stopped it, on the way to another state
        this.inputPump = undefined;
        this.raise(reason === 'eof' ? 'eof' : 'read-error', { err });
      },
    });
  }

  /** An error while no pump reads (or after it stopped) still needs a home. */
  private watchErrors(stream: Readable): void {
    stream.on('error', (err) => {
      this.deps.logger.debug({ err }, 'stdin fifo error');
      if (stream === this.stream) this.raise('read-error', { err });
    });
  }
}
