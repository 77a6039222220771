// A daemon that fails before its logger exists still has to say why: `start` has exited and
// containerd only sees its first call fail. This writes one containerd-style JSON line to the
// bundle's log fifo (which containerd copies into its own log) with node built-ins only, so it
// works when the failure is that pino or the config could not be loaded.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import path from 'node:path';

export function logStartupFailure(bundle: string, fields: { id: string; namespace: string }, err: unknown): void {
  const line = JSON.stringify({
    level: 'error',
    time: new Date().toISOString(),
    pid: process.pid,
    ...fields,
    err: (err as Error)?.message ?? String(err),
    msg: 'shim daemon failed to start',
  });
  try {
    // O_RDWR|O_NONBLOCK: no ENXIO when containerd is not reading, never blocks (see telemetry/logger.ts).
    const fd = openSync(path.join(bundle, 'log'), constants.O_RDWR | constants.O_NONBLOCK | constants.O_APPEND);
    try {
      writeSync(fd, `${line}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    // No log fifo (run by hand) or it is full: nothing else can hear us.
  }
}
