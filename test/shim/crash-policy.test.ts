// Regression (issue 11 item 6): the daemon logged uncaught exceptions and unhandled rejections
// and kept serving with memory it could no longer trust. Crash-only now: log with the stack,
// unlink the socket, exit 1 — containerd's `delete` cleans up the tasks (see crash-policy.ts).
import { EventEmitter } from 'node:events';
import { describe, expect, test, vi } from 'vitest';
import { CRASH_EXIT_CODE, installCrashPolicy } from '../../src/shim/crash-policy';

function setUp(opts: { flush?: 'answers' | 'never' | 'throws' } = {}) {
  const proc = new EventEmitter();
  const steps: string[] = [];
  const logged: { obj: { err?: unknown }; msg: string }[] = [];
  const log = {
    fatal: (obj: { err?: unknown }, msg: string) => {
      steps.push('log');
      logged.push({ obj, msg });
    },
    flush: (cb?: (err?: Error) => void) => {
      if (opts.flush === 'throws') throw new Error('EAGAIN');
      if (opts.flush !== 'never') setImmediate(() => cb?.());
    },
  };
  const exits: number[] = [];
  installCrashPolicy(proc as unknown as NodeJS.Process, {
    log,
    removeSocket: () => steps.push('unlink socket'),
    exit: (code) => {
      steps.push('exit');
      exits.push(code);
    },
  });
  return { proc, steps, logged, exits };
}

describe('crash policy', () => {
  test.each([
    ['uncaughtException', 'uncaught exception'],
    ['unhandledRejection', 'unhandled rejection'],
  ])('%s: logs the error with its stack, unlinks the socket, then exits %i', async (event, words) => {
    const { proc, steps, logged, exits } = setUp();
    const err = new TypeError('cannot read properties of undefined');
    proc.emit(event, err);
    await vi.waitFor(() => expect(exits).toEqual([CRASH_EXIT_CODE]));
    expect(CRASH_EXIT_CODE).not.toBe(0);
    expect(steps).toEqual(['log', 'unlink socket', 'exit']);
    expect(logged[0]!.msg).toContain(words);
    expect(logged[0]!.obj.err).toBe(err); // pino's err serializer writes the stack
    expect((logged[0]!.obj.err as Error).stack).toContain('TypeError');
  });

  test('exits even when the log never flushes (containerd stopped reading the fifo) or flush throws', async () => {
    for (const flush of ['never', 'throws'] as const) {
      const { proc, exits } = setUp({ flush });
      proc.emit('uncaughtException', new Error('boom'));
      await vi.waitFor(() => expect(exits).toEqual([CRASH_EXIT_CODE]), { timeout: 10_000 });
    }
  });

  test('a second failure while dying neither logs again nor exits twice', async () => {
    const { proc, logged, exits } = setUp();
    proc.emit('uncaughtException', new Error('first'));
    proc.emit('unhandledRejection', new Error('second'));
    await vi.waitFor(() => expect(exits).toEqual([CRASH_EXIT_CODE]));
    await new Promise((r) => setTimeout(r, 300)); // past the flush grace: still one exit
    expect(exits).toEqual([CRASH_EXIT_CODE]);
    expect(logged).toHaveLength(1);
  });
});
