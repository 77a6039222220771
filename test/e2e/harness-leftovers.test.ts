// The harness's own cleanup, against real containerd, micad-sim and qemu: destroy() of a test's
// containerd stops the shim daemon of a task the test never deleted (what a failed test leaves;
// two such daemons were found running on the shared machine), and the leftover finders match by
// path below a directory, not by string prefix.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { taskStatus, type Containerd } from './harness/containerd';
import { isUnder, micadInstances, mountsUnder, qemuChildren, shimDaemons } from './harness/leftovers';
import type { MicadSim } from './harness/micad-sim';
import { startMicrunStack, type MicrunStack } from './harness/micrun-stack';
import { isAlive, waitFor } from './harness/processes';

const ECHO = 'docker.io/micrun-test/echo:leftovers';
const work = mkdtempSync(path.join(tmpdir(), 'micrun-leftovers-e2e-'));
let stack: MicrunStack | undefined;
let sim: MicadSim;
let ctd: Containerd;

beforeAll(async () => {
  stack = await startMicrunStack({ stateDir: path.join(work, 'state'), images: [['echo', ECHO]] });
  ({ sim, ctd } = stack);
});

afterAll(async () => {
  await stack?.destroy(); // after the test's own destroy(): a second call must be harmless
  rmSync(work, { recursive: true, force: true });
});

test('a path is under a dir only below a path separator: /x/s2 is not under /x/s', () => {
  expect(isUnder('/x/s', '/x/s')).toBe(true);
  expect(isUnder('/x/s/abc', '/x/s')).toBe(true);
  expect(isUnder('/x/s2', '/x/s')).toBe(false);
  expect(isUnder('/x/s2/abc', '/x/s')).toBe(false);
  expect(isUnder('/x', '/x/s')).toBe(false);
  expect(isUnder('s/abc', '/x/s')).toBe(false);
});

test('destroy() stops the shim daemon of a task that was never deleted, after containerd, and removes its dir', async () => {
  const c = ctd;
  const id = 'abandoned';
  const r = await c.ctr(['run', '-d', '--runtime', 'io.containerd.mica.v2', ECHO, id]);
  expect(r.code, r.stderr).toBe(0);
  expect(await taskStatus(c, id)).toBe('RUNNING');
  const daemons = shimDaemons(c.shimSocketDir);
  expect(daemons).toHaveLength(1);
  expect(shimDaemons(c.shimSocketDir, id)).toEqual(daemons);
  expect(shimDaemons(c.shimSocketDir, 'another-id')).toEqual([]);
  expect(shimDaemons(`${c.shimSocketDir}2`)).toEqual([]); // a sibling dir sharing the prefix
  expect(micadInstances(sim.socketDir)).toEqual([`${id}.socket`]);
  expect(qemuChildren(sim.pid)).toHaveLength(1);
  expect(mountsUnder(c.state)).toHaveLength(1); // the task's rootfs
  expect(mountsUnder(`${c.state}x`)).toEqual([]);

  await c.destroy();
  expect(isAlive(c.pid)).toBe(false);
  for (const pid of daemons) expect(isAlive(pid)).toBe(false);
  expect(shimDaemons(c.shimSocketDir)).toEqual([]);
  expect(mountsUnder(c.dir)).toEqual([]);
  expect(existsSync(c.dir)).toBe(false);
  // SIGTERM leaves the RTOS running (the daemon's exit is not the task's): micad-sim's stop
  // takes the instance and its QEMU with it.
  const qemu = qemuChildren(sim.pid);
  await sim.stop();
  await waitFor(() => qemu.every((pid) => !isAlive(pid)), { what: 'QEMU gone with micad-sim', timeoutMs: 10_000 });
});
