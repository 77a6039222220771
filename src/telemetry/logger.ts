// The shim daemon's logger: pino JSON lines into `<bundle>/log`, the fifo containerd reads and
// copies to its own log. containerd opened the fifo before running `start`, but it may restart
// (and stop reading) at any time, so the fifo is opened O_RDWR|O_NONBLOCK: no ENXIO without a
// reader, no EPIPE, and a full pipe drops lines instead of blocking the event loop.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';

export type { Logger };

export interface ShimLoggerOptions {
  /** Usually `<bundle>/log`. Missing → a silent logger (the daemon must run without it). */
  logPath: string;
  level: string;
  /** Fields on every line, containerd-style: id, namespace. */
  base: Record<string, string>;
}

/** Lines kept in memory while containerd does not read the fifo, before new ones are dropped. */
const MAX_BUFFERED_BYTES = 1 << 20;

export function createShimLogger(opts: ShimLoggerOptions): Logger {
  let fd: number;
  try {
    fd = openSync(opts.logPath, constants.O_RDWR | constants.O_NONBLOCK | constants.O_APPEND);
  } catch {
    return pino({ level: 'silent' });
  }
  const dest = pino.destination({ dest: fd, sync: false, maxLength: MAX_BUFFERED_BYTES, minLength: 0 });
  dest.on('error', () => {
    // EPIPE/EAGAIN while containerd is away: losing log lines is acceptable, crashing is not.
  });
  return pino(pinoOptions(opts), dest);
}

/** containerd-style lines: level as a label, ISO time, id and namespace on every line. */
function pinoOptions(opts: ShimLoggerOptions): pino.LoggerOptions {
  return {
    level: opts.level,
    base: { ...opts.base, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
}

/** A shim logger whose fifo can change: see `createFollowingShimLogger`. */
export interface FollowingShimLogger {
  logger: Logger;
  /** Writes from now on into this fifo (opened O_RDWR|O_NONBLOCK); a path that cannot be opened keeps the current one. */
  follow(logPath: string): void;
}

/**
 * For a daemon that outlives the container that started it (grouping `namespace`): containerd
 * reads a task's `<bundle>/log` only while that task's shim connection lives, so the daemon
 * moves its log to a live container's fifo as containers come and go. Each line is one
 * non-blocking write: a full or unread fifo drops the line, never blocks or throws.
 */
export function createFollowingShimLogger(opts: ShimLoggerOptions): FollowingShimLogger {
  let fd: number | undefined;
  const follow = (logPath: string) => {
    let next: number;
    try {
      next = openSync(logPath, constants.O_RDWR | constants.O_NONBLOCK | constants.O_APPEND);
    } catch {
      return;
    }
    if (fd !== undefined) closeSync(fd);
    fd = next;
  };
  follow(opts.logPath);
  const sink = {
    write(line: string) {
      if (fd === undefined) return;
      try {
        writeSync(fd, line);
      } catch {
        // EAGAIN (nobody reads, fifo full), EPIPE: losing a line is acceptable, blocking is not.
      }
    },
  };
  return { logger: pino(pinoOptions(opts), sink), follow };
}
