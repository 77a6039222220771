// The sequence the fault storm hit now and then (it left one idle pod daemon): a `ctr run` client
// SIGKILLed while the shim is still creating its task. containerd's request context ends with the
// client, so it gives up on Create at once and cleans up — Delete (the shim knows no such
// container yet: NotFound), Shutdown, it closes the connection, runs the `delete` one-shot and
// removes the bundle — while the shim's Create is still waiting for micad. When that Create
// finished, the daemon kept a container nobody would ever delete, with no client: it stayed for
// ever (and, depending on the moment, so did the micad instance and the record).
//
// Here the moment is exact: the fault proxy holds micad's reply to the create until containerd's
// cleanup is done. Real containerd (every build of the matrix), the built shim, micad-sim and QEMU.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { describeFaultsOnEachContainerd, NOTHING_LEFT, RUNTIME, type FaultStack } from './harness/fault-stack';
import { waitFor } from './harness/processes';

const EXIT0 = 'docker.io/micrun-test/exit-0:fault';
const work = mkdtempSync(path.join(tmpdir(), 'micrun-fault-abandoned-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const bundleOf = (s: FaultStack, id: string) => path.join(s.ctd.state, 'io.containerd.runtime.v2.task', 'default', id);

/**
 * `ctr run -d <id>` SIGKILLed while the shim's Create waits for micad; micad's reply is passed
 * on only once containerd has given the task up (its bundle is gone).
 */
async function abandonCreate(s: FaultStack, id: string, ctrArgs: string[] = []): Promise<void> {
  const held = s.proxy.inject({ fault: 'hold', match: (socket, text) => socket === 'mica-create.socket' && text.includes(id) });
  const ctr = spawn(s.ctd.ctrPath, ['--address', s.ctd.address, 'run', '-d', '--runtime', RUNTIME, ...ctrArgs, EXIT0, id], { stdio: 'ignore' });
  const exited = new Promise((resolve) => ctr.once('exit', resolve));
  await held.hit;
  ctr.kill('SIGKILL');
  await exited;
  await waitFor(() => !existsSync(bundleOf(s, id)), { what: `containerd to give ${id} up (its bundle removed)` });
  held.release();
}

describeFaultsOnEachContainerd(
  'a Create containerd gave up',
  work,
  // Grouping pod: the container gets a daemon of its own, so "the daemon ends" is observable.
  { stack: () => ({ images: [['exit-0', EXIT0]], micadTimeoutMs: 10_000, containerd: { env: { MICRUN_SHIM_GROUPING: 'pod' } } }) },
  (stack) => {
    test('ctr client SIGKILLed while the shim creates: the late Create is undone and the daemon ends — nothing left', async () => {
      const s = stack();
      const unknownReplies = s.watchUnknownReplies();
      await abandonCreate(s, 'abandoned');
      await s.removeContainer('abandoned'); // the user removes what ctr left (the container record)
      expect(await s.settledLeftovers(30_000)).toEqual(NOTHING_LEFT);
      expect(unknownReplies()).toEqual([]);
    });

    test('in a pod whose daemon serves other containers, the abandoned one is undone and the pod is removed cleanly', async () => {
      const s = stack();
      const pod = (type: string, id: string) => ['--annotation', `io.kubernetes.cri.container-type=${type}`, '--annotation', `io.kubernetes.cri.sandbox-id=${id}`];
      const r = await s.ctd.ctr(['run', '-d', '--runtime', RUNTIME, ...pod('sandbox', 'apod'), EXIT0, 'apod']);
      expect(r.code, r.stderr).toBe(0);
      await abandonCreate(s, 'amember', pod('container', 'apod'));
      // The pod's daemon still serves the pod: the abandoned member is gone from it.
      await waitFor(async () => (await s.leftovers()).instances.length === 0, { what: 'the abandoned instance removed' });
      expect((await s.leftovers()).stateRecords).toEqual(['apod']);
      await s.removeContainer('amember');
      await s.removeContainer('apod');
      expect(await s.settledLeftovers(30_000)).toEqual(NOTHING_LEFT);
    });
  },
);
