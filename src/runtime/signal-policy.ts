// What Kill does with each signal. An RTOS on a remote core has no signals, so each one maps to
// an instance operation; a signal we cannot honour is an error naming it (the Go micrun replied
// success for every signal it ignored).
import { constants } from 'node:os';
import { invalidArgument } from '../errors';

export type SignalAction =
  | { kind: 'stop'; exitStatus: number }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'ignore' };

const S = constants.signals;

/** Signals that end the task; the exit status is 128 + signal, as a shell reports it. */
const STOP = new Set<number>([S.SIGTERM, S.SIGINT, S.SIGKILL]);
/** Sent by terminals and runtimes as a matter of course; meaningless to an RTOS, harmless. */
const IGNORED = new Set<number>([S.SIGWINCH, S.SIGCHLD, S.SIGURG]);

export function signalName(signal: number): string {
  const name = Object.entries(S).find(([, n]) => n === signal)?.[0];
  return name ? `${name} (${signal})` : `signal ${signal}`;
}

export function signalAction(signal: number): SignalAction {
  if (STOP.has(signal)) return { kind: 'stop', exitStatus: 128 + signal };
  if (signal === S.SIGSTOP) return { kind: 'pause' };
  if (signal === S.SIGCONT) return { kind: 'resume' };
  if (IGNORED.has(signal)) return { kind: 'ignore' };
  throw invalidArgument(
    `${signalName(signal)} is not supported by micrun: an RTOS task can only be stopped ` +
      '(SIGTERM, SIGINT, SIGKILL), paused (SIGSTOP) or resumed (SIGCONT)',
  );
}
