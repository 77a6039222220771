// Regression (issue 11 item 6): the daemon logged uncaught exceptions and unhandled rejections
// and kept serving with memory it could no longer trust. Crash-only now: log with the stack,
// unlink the socket, exit 1 — containerd's `delete` cleans up the tasks (see crash-policy.ts).
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
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

describe('crash policy in a real process', () => {
  test.each([
    ['a throw from a timer', "setTimeout(() => { throw new RangeError('bug in a timer'); }, 10);", 'RangeError: bug in a timer'],
    ['a rejected promise nobody handles', "setTimeout(() => { Promise.reject(new TypeError('bug in a promise')); }, 10);", 'TypeError: bug in a promise'],
  ])('%s: the process exits 1, the log line carries the stack, the socket file is gone', async (_what, fault, stackLine) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'micrun-crash-'));
    try {
      await build({
        entryPoints: [path.resolve(__dirname, '../../src/shim/crash-policy.ts')],
        outfile: path.join(dir, 'crash-policy.cjs'),
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        logLevel: 'error',
      });
      const socket = path.join(dir, 'shim.sock');
      writeFileSync(
        path.join(dir, 'daemon.cjs'),
        `
const fs = require('node:fs');
const net = require('node:net');
const { installCrashPolicy } = require('./crash-policy.cjs');
const server = net.createServer().listen(${JSON.stringify(socket)}, () => {
  const log = { fatal: (obj, msg) => fs.appendFileSync(${JSON.stringify(path.join(dir, 'log'))}, JSON.stringify({ msg, stack: obj.err.stack }) + '\\n') };
  installCrashPolicy(process, { log, removeSocket: () => fs.unlinkSync(${JSON.stringify(socket)}), exit: (code) => process.exit(code) });
  ${fault}
});
`,
      );
      const run = spawnSync(process.execPath, [path.join(dir, 'daemon.cjs')], { timeout: 60_000 });
      expect(run.status).toBe(1);
      const line = JSON.parse(readFileSync(path.join(dir, 'log'), 'utf8').trim()) as { msg: string; stack: string };
      expect(line.msg).toContain('shim daemon crashed');
      expect(line.stack).toContain(stackLine);
      expect(existsSync(socket)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
