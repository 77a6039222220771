// Regressions (issue 11 items 4, 7 and 9) for the Runtime's error paths: whatever fails half-way,
// no micad instance is orphaned, no container stops being watched, and the persisted record
// says what micad really holds.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Code, CodedError, deadlineExceeded, internal, unavailable } from '../../src/errors';
import type { ContainerRecord } from '../../src/runtime/container';
import type { ExitReport, Runtime } from '../../src/runtime/runtime';
import { FileStateStore } from '../../src/runtime/state-store';
import { ELF_BYTES, NO_STDIO, writeBundle } from './bundle-fixture';
import { FakeMica } from './fake-mica';
import { newTestRuntime } from './test-runtime';

let dir: string;
let stateDir: string;
let mica: FakeMica;
let runtime: Runtime;
let exits: { id: string; report: ExitReport }[];

function makeRuntime(opts: { store?: FileStateStore; maxFirmwareBytes?: number } = {}): Runtime {
  runtime?.close();
  runtime = newTestRuntime({ mica, stateDir, pid: 7, onExit: async (c, report) => void exits.push({ id: c.id, report }), ...opts });
  return runtime;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-errpath-'));
  stateDir = path.join(dir, 'state');
  mica = new FakeMica();
  exits = [];
  makeRuntime();
});
afterEach(() => {
  runtime.close();
  rmSync(dir, { recursive: true, force: true });
});

const create = (id: string, bundleOpts: Parameters<typeof writeBundle>[1] = {}) =>
  runtime.create({ id, bundle: writeBundle(path.join(dir, 'bundles', id), bundleOpts), rootfs: [], stdio: NO_STDIO });

async function rejection(p: Promise<unknown>): Promise<CodedError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CodedError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

const leftovers = () => (existsSync(path.join(stateDir, 'containers')) ? readdirSync(path.join(stateDir, 'containers')) : []);

describe('Create', () => {
  test('regression: a micad create that times out after making the instance leaves no instance and no record', async () => {
    mica.failCreateAfterMaking = deadlineExceeded('micad create: no reply within 5000 ms');
    expect((await rejection(create('c1'))).code).toBe(Code.DeadlineExceeded);
    expect(mica.instances.size).toBe(0);
    expect(mica.calls).toContain('rm c1');
    expect(leftovers()).toEqual([]);
    expect(runtime.containers.size).toBe(0);
  });

  test('a firmware above the configured staging limit is ResourceExhausted and leaves nothing', async () => {
    makeRuntime({ maxFirmwareBytes: 32 });
    const err = await rejection(create('big', { firmware: Buffer.concat([ELF_BYTES, Buffer.alloc(64)]) }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.message).toContain('max_firmware_mib');
    expect(mica.instances.size).toBe(0);
    expect(leftovers()).toEqual([]);
  });
});

describe('Kill', () => {
  test('regression: a Kill whose micad stop fails leaves the container running AND watched', async () => {
    await create('c1');
    const { container } = await runtime.start('c1');
    runtime.watch(container);
    mica.failStop = unavailable('micad: stop timed out');
    expect((await rejection(runtime.kill('c1', 15))).code).toBe(Code.Unavailable);
    expect(container.state).toBe('running');
    // The firmware then ends by itself: the monitor must still notice.
    mica.finish('c1', 3);
    expect((await runtime.wait('c1', AbortSignal.timeout(10_000))).exitStatus).toBe(3);
    expect(exits).toEqual([{ id: 'c1', report: { announce: true } }]);
  });
});

describe('Start', () => {
  test('regression: when the state cannot be persisted after micad start, the instance is stopped and the container ended, unannounced', async () => {
    class FailRunningSave extends FileStateStore {
      override save(record: ContainerRecord): Promise<void> {
        if (record.state === 'running') return Promise.reject(new CodedError(Code.ResourceExhausted, 'state dir full'));
        return super.save(record);
      }
    }
    makeRuntime({ store: new FailRunningSave(stateDir) });
    await create('c1');
    expect((await rejection(runtime.start('c1'))).code).toBe(Code.ResourceExhausted);
    expect(mica.instances.get('c1')!.state).toBe('Offline'); // stopped, not left running unwatched
    expect((await runtime.wait('c1', AbortSignal.timeout(10_000))).exitStatus).toBe(137);
    expect(exits).toEqual([{ id: 'c1', report: { announce: false } }]);
    await runtime.delete('c1');
    expect(mica.instances.size).toBe(0);
    expect(leftovers()).toEqual([]);
  });

  test('abortStart (the shim could not attach the console) ends the container without announcing an exit', async () => {
    await create('c1');
    await runtime.start('c1');
    await runtime.abortStart('c1');
    expect(runtime.containers.get('c1').state).toBe('stopped');
    expect(mica.instances.get('c1')!.state).toBe('Offline');
    expect(exits).toEqual([{ id: 'c1', report: { announce: false } }]);
  });
});

describe('Update', () => {
  test('regression: a partly failed Update persists what micad applied, and the next Update plans from it', async () => {
    await create('c1');
    await runtime.start('c1');
    mica.failSetKey = 'memory';
    // 64 MiB and a 50% quota: cpucapacity goes first, then maxmemory, then memory (refused).
    const res = { cpu: { quota: 50_000, period: 100_000 }, memory: { limit: 64 * 1024 * 1024 } };
    expect((await rejection(runtime.update('c1', res))).code).toBe(Code.InvalidArgument);
    const saved = (await new FileStateStore(stateDir).load('c1'))!;
    expect(saved.resources).toMatchObject({ cpuCapacity: 50, maxMemoryMiB: 64, memoryMiB: 32 });
    expect(runtime.containers.get('c1').resources).toEqual(saved.resources);
    // Retrying sends only what is still missing.
    mica.failSetKey = undefined;
    mica.calls.length = 0;
    await runtime.update('c1', res);
    expect(mica.calls).toEqual(['set c1 memory 64']);
    expect((await new FileStateStore(stateDir).load('c1'))!.resources).toMatchObject({ memoryMiB: 64, maxMemoryMiB: 64 });
  });
});

test('an unexpected micad failure in Create is still undone (Internal)', async () => {
  mica.failCreate = internal('micad: garbled reply');
  expect((await rejection(create('c1'))).code).toBe(Code.Internal);
  expect(leftovers()).toEqual([]);
});
