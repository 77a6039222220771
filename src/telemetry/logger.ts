// The shim daemon's logger: pino JSON lines into `<bundle>/log`, the fifo containerd reads and
// copies to its own log. containerd opened the fifo before running `start`, but it may restart
// (and stop reading) at any time, so the fifo is opened O_RDWR|O_NONBLOCK: no ENXIO without a
// reader, no EPIPE, and a full pipe drops lines instead of blocking the event loop.
import { constants, openSync } from 'node:fs';
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
  return pino(
    {
      level: opts.level,
      base: { ...opts.base, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}
