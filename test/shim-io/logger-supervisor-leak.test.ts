// Regression (issue 11, defect 1): the logger supervisor attached a reaction to the logging
// binary's `exited` promise for every console chunk, so each write stayed retained (~244 bytes)
// until the binary exited — a chatty firmware under nerdctl's binary:// grew the daemon without
// end. This pins the heap after a full GC: it is deterministic, not a timing bound, and the
// margin is wide (under 16 bytes per write against ~244 before the fix).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultLoggerPolicy } from '../../src/shim/io';
import { LoggerSupervisor } from '../../src/shim/io/logger-supervisor';
import { silentLogger, tempDir } from './harness';

const LOGGER = path.resolve(__dirname, '../fixtures/logger/logger.sh');
const WRITES = 1_000_000;
const CHUNK = Buffer.from('x');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterFullGc(): number {
  // Twice: the first pass can leave objects whose finalisers free more on the second.
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Writes `count` chunks one after another, honouring backpressure, until all are handed on. */
async function writeChunks(out: Writable, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (!out.write(CHUNK)) await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise<void>((resolve, reject) => out.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
}

describe('logger supervisor memory', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('retains no memory per console write while the logging binary runs (regression: ~244 B/write)', { timeout: 300_000 }, async () => {
    const dir = tempDir();
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const prefix = path.join(dir, 'log');
    const supervisor = await LoggerSupervisor.start(
      { path: LOGGER, args: ['out', prefix], containerId: 'c1', namespace: 'default' },
      defaultLoggerPolicy,
      silentLogger,
    );
    cleanup.push(() => supervisor.stop());

    await writeChunks(supervisor.stdout, 10_000); // warm up: JIT, socket buffers, pool slabs
    const before = heapAfterFullGc();
    await writeChunks(supervisor.stdout, WRITES);
    const after = heapAfterFullGc();
    const perWrite = (after - before) / WRITES;
    console.log(`logger supervisor: ${perWrite.toFixed(2)} bytes retained per write over ${WRITES} writes`);

    expect(supervisor.stats.state).toBe('up'); // the binary really ran throughout
    expect(perWrite).toBeLessThan(16);
    await supervisor.stop();
    expect(fs.statSync(`${prefix}.stdout`).size).toBe(10_000 + WRITES);
  });
});
