// stdin's lifecycle as data: which state the stdin fifo is in, and for each event what it
// becomes and what is done. StdinFeed (stdin-feed.ts) runs the actions; this module is pure.
//
// An event not listed for a state changes nothing and does nothing: e.g. a second CloseIO,
// a console hang-up while no console was fed, task exit after stdin closed. The RTOS console
// has no notion of EOF, so no row here ever stops the task or its console output.

export type StdinState =
  /** The spec named no stdin (`ctr run` without -i, CRI stdin=false). Nothing ever happens. */
  | 'none'
  /** The fifo is open but not read: no console yet (before Start) or it hung up. Typed bytes wait in the fifo. */
  | 'waiting'
  /** Copying the fifo into the console. */
  | 'flowing'
  /** CloseIO came while no console was fed: read on once one is attached, then close. */
  | 'close-requested'
  /** CloseIO came: read on until EOF or stdinQuietMs without bytes, then close. */
  | 'draining'
  /** The writer went away without CloseIO: a fresh read side is being opened for the next client. */
  | 'reopening'
  /** Closed for good: the fifo's read side is closed; a client's write now fails with EPIPE. */
  | 'closed';

export type StdinEvent =
  /** A live console exists (attach() at Start, or the instance came back with a console). */
  | 'console-attached'
  /** The console went away: attach() replacing it, micad closing the pty (EIO), close(). */
  | 'console-gone'
  /** CloseIO{stdin} from containerd (ctr sends it when its own stdin hits EOF). */
  | 'close-io'
  /** Bytes were copied into the console. */
  | 'data'
  /** stdinQuietMs passed without bytes while draining. */
  | 'quiet'
  /** The fifo's last writer closed it. */
  | 'eof'
  /** Reading the fifo failed. */
  | 'read-error'
  /** The fresh read side for the next client is open. */
  | 'reopened'
  /** The fresh read side could not be opened (the fifo was removed). */
  | 'reopen-failed'
  /** The task exited: TaskIO.close(). */
  | 'task-exit';

export type StdinAction =
  /** Start copying the fifo into the live console. */
  | 'start-pump'
  /** Stop copying (the fifo stays open) and forget the quiet timer. */
  | 'stop-pump'
  /** (Re)start the stdinQuietMs timer whose expiry is the `quiet` event. */
  | 'arm-quiet-timer'
  /** Close the fifo's read side. */
  | 'close-stream'
  /** Open a fresh read side of the same fifo; ends in `reopened` or `reopen-failed`. */
  | 'reopen-fifo'
  /** Take the fresh read side as stdin. */
  | 'adopt-stream'
  /** Close a fresh read side nobody wants any more. */
  | 'drop-stream'
  /** If a live console exists, raise `console-attached` (the console did not wait for us). */
  | 'resume-if-console';

export interface StdinTransition {
  readonly to: StdinState;
  readonly actions: readonly StdinAction[];
  /** Logged (info or warn) when taken; other state changes are logged at debug. */
  readonly log?: { readonly level: 'info' | 'warn'; readonly message: string };
}

const closeFor = (actions: readonly StdinAction[], log?: StdinTransition['log']): StdinTransition => ({ to: 'closed', actions, log });
const READ_FAILED = { level: 'warn', message: 'stdin fifo read failed; console input stops' } as const;

export const STDIN_TRANSITIONS: { readonly [S in StdinState]: { readonly [E in StdinEvent]?: StdinTransition } } = {
  none: {},
  waiting: {
    // Start, or the instance came back: what waited in the fifo goes first.
    'console-attached': { to: 'flowing', actions: ['start-pump'] },
    // CloseIO before Start: what the client wrote before it must still reach the console.
    'close-io': { to: 'close-requested', actions: [] },
    'read-error': closeFor(['close-stream'], READ_FAILED),
    'task-exit': closeFor(['close-stream']),
  },
  flowing: {
    data: { to: 'flowing', actions: [] },
    // Hang-up (or a new console replacing this one): bytes typed meanwhile wait in the fifo.
    'console-gone': { to: 'waiting', actions: ['stop-pump'] },
    // Read on a little: the client's last bytes may still be in the fifo.
    'close-io': { to: 'draining', actions: ['arm-quiet-timer'] },
    // A killed `ctr run -t`, an exited `ctr run -d`: `ctr task attach` reopens the same fifo
    // later, so wait for the next writer on a fresh read side instead of closing for good.
    eof: {
      to: 'reopening',
      actions: ['close-stream', 'reopen-fifo'],
      log: { level: 'info', message: 'stdin writer went away; waiting for the next client (ctr task attach)' },
    },
    'read-error': closeFor(['stop-pump', 'close-stream'], READ_FAILED),
    'task-exit': closeFor(['stop-pump', 'close-stream']),
  },
  'close-requested': {
    'console-attached': { to: 'draining', actions: ['start-pump', 'arm-quiet-timer'] },
    'read-error': closeFor(['close-stream'], READ_FAILED),
    'task-exit': closeFor(['close-stream']),
  },
  draining: {
    // Still typing: the quiet period starts again.
    data: { to: 'draining', actions: ['arm-quiet-timer'] },
    quiet: closeFor(['stop-pump', 'close-stream']),
    // The usual end of `echo hi | ctr run`: CloseIO, then the client closes its side.
    eof: closeFor(['stop-pump', 'close-stream'], { level: 'info', message: 'stdin closed by the client; console input stops, the task keeps running' }),
    // Input was already closing; it is not carried over to a replacing console.
    'console-gone': closeFor(['stop-pump', 'close-stream']),
    'read-error': closeFor(['stop-pump', 'close-stream'], READ_FAILED),
    'task-exit': closeFor(['stop-pump', 'close-stream']),
  },
  reopening: {
    'reopened': { to: 'waiting', actions: ['adopt-stream', 'resume-if-console'] },
    'reopen-failed': closeFor([], { level: 'warn', message: 'cannot reopen the stdin fifo; console input stops' }),
    // CloseIO or exit while reopening: the fresh read side is dropped when it arrives (below).
    'close-io': closeFor([]),
    'task-exit': closeFor([]),
  },
  closed: {
    // Only `reopening` opens a read side, and it leaves only to `waiting` (by `reopened`) or to
    // `closed`: a read side arriving here is one nobody wants any more.
    reopened: { to: 'closed', actions: ['drop-stream'] },
  },
};

/** The transition for `event` in `state`, or undefined: the event changes nothing there. */
export function stdinTransition(state: StdinState, event: StdinEvent): StdinTransition | undefined {
  return STDIN_TRANSITIONS[state][event];
}
