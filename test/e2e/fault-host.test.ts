// Fault injection on the host around the shim (real containerd, the built shim, micad-sim behind
// the fault proxy, QEMU): the state dir full (a small tmpfs), the bundle's log fifo gone,
// containerd SIGKILLed while the shim creates, the shim daemon SIGKILLed during Create and during
// Start. "During" is exact: the proxy holds micad's reply to that request until the kill is done.
// After each: any failure is a coded error (the shim answered no call with Unknown) and once the
// user removed the container nothing is left. On every containerd build of the matrix.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { distDir, taskStatus } from './harness/containerd';
import { describeFaultsOnEachContainerd, NOTHING_LEFT, RUNTIME } from './harness/fault-stack';
import { mountsUnder, shimDaemons } from './harness/leftovers';
import { isAlive, waitFor } from './harness/processes';

const ECHO = 'docker.io/micrun-test/echo:fault';
const work = mkdtempSync(path.join(tmpdir(), 'micrun-fault-host-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The shims' state dir is a directory on a tmpfs of the build's own, so it can be filled up. */
const stateFsOf = (buildWork: string) => path.join(buildWork, 'statefs');
const createRequest = (id: string) => (socket: string, text: string) => socket === 'mica-create.socket' && text.includes(id);
const startRequest = (id: string) => (socket: string, text: string) => socket === `${id}.socket` && text.startsWith('start');

/** Fills the file system holding `dir` up to the last byte; returns the filler to remove. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  try {
    for (;;) writeSync(fd, block, 0, 1); // the last bytes of a partly used block
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return filler;
}

describeFaultsOnEachContainerd(
  'host faults',
  work,
  {
    stack: (buildWork) => {
      const stateFs = stateFsOf(buildWork);
      mkdirSync(stateFs);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'micrun-fault-state', stateFs]);
      return {
        images: [['echo', ECHO]],
        stateDir: path.join(stateFs, 'state'),
        micadTimeoutMs: 3000,
        // Each fault here hits one container's own daemon (found by its -id): grouping pod. A killed
        // daemon shared by a namespace is pinned in shim-shared-daemon.test.ts.
        containerd: { env: { MICRUN_SHIM_GROUPING: 'pod' } },
      };
    },
    cleanup: (buildWork) => {
      for (const m of mountsUnder(buildWork).sort().reverse()) execFileSync('umount', ['-l', m]);
    },
  },
  (stack, _build, buildWork) => {
    const s = stack;
    const stateFs = stateFsOf(buildWork);
    const daemonOf = (id: string) => shimDaemons(s().ctd.shimSocketDir, id);
    const bundleOf = (id: string) => path.join(s().ctd.state, 'io.containerd.runtime.v2.task', 'default', id);

    async function expectCleanAfterRemoval(id: string, unknownReplies: () => string[]): Promise<void> {
      await s().removeContainer(id);
      expect(await s().settledLeftovers()).toEqual(NOTHING_LEFT);
      expect(unknownReplies()).toEqual([]);
    }

    test('state dir full: ctr run fails with a coded error naming the space, nothing left', async () => {
      const unknownReplies = s().watchUnknownReplies();
      const filler = fill(stateFs);
      try {
        const r = await s().ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, 'full']);
        expect(r.code, r.stdout).not.toBe(0);
        expect(r.stderr).toMatch(/ENOSPC|no space/i);
      } finally {
        unlinkSync(filler);
      }
      await expectCleanAfterRemoval('full', unknownReplies);
    });

    test('the log fifo gone before the daemon starts: the container runs, stops and is removed cleanly', async () => {
      // A runtime whose daemon finds no <bundle>/log: the wrapper removes it right before the
      // shim's `serve` (the daemon's cwd is the bundle).
      const wrapper = path.join(s().ctd.binDir, 'containerd-shim-micanolog-v2');
      const shim = path.join(distDir, 'containerd-shim-mica-v2.js');
      writeFileSync(
        wrapper,
        ['#!/usr/bin/env node', "if (process.argv[process.argv.length - 1] === 'serve') require('node:fs').rmSync('log', { force: true });", `require(${JSON.stringify(shim)});`].join('\n'),
        { mode: 0o755 },
      );
      const unknownReplies = s().watchUnknownReplies();
      const r = await s().ctd.ctr(['run', '-d', '--runtime', 'io.containerd.micanolog.v2', ECHO, 'nolog']);
      expect(r.code, r.stderr).toBe(0);
      expect(await taskStatus(s().ctd, 'nolog')).toBe('RUNNING');
      await expectCleanAfterRemoval('nolog', unknownReplies);
    });

    test('the log fifo removed under a running daemon: kill and delete still work, nothing left', async () => {
      const unknownReplies = s().watchUnknownReplies();
      const r = await s().ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, 'logrm']);
      expect(r.code, r.stderr).toBe(0);
      rmSync(path.join(bundleOf('logrm'), 'log'));
      expect((await s().ctd.ctr(['task', 'kill', '-s', 'SIGTERM', 'logrm'])).code).toBe(0);
      await waitFor(async () => (await taskStatus(s().ctd, 'logrm')) === 'STOPPED', { what: 'logrm stopped' });
      await expectCleanAfterRemoval('logrm', unknownReplies);
    });

    test.each([
      // micad got the create message; its reply waits in the proxy.
      ['Create', 'kcreate', createRequest],
      // micad got `start`: QEMU runs, the shim waits for the reply.
      ['Start', 'kstart', startRequest],
    ] as const)('shim daemon SIGKILLed during %s: ctr run fails, containerd cleans up, nothing left', async (_call, id, request) => {
      const unknownReplies = s().watchUnknownReplies();
      const held = s().proxy.inject({ fault: 'hold', match: request(id) });
      const run = s().ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, id]);
      await held.hit;
      const [daemon] = daemonOf(id);
      process.kill(daemon!, 'SIGKILL');
      await waitFor(() => !isAlive(daemon!), { what: 'daemon gone' });
      held.release();
      const r = await run;
      expect(r.code, r.stdout).not.toBe(0);
      await expectCleanAfterRemoval(id, unknownReplies);
    });

    test('containerd SIGKILLed during Create and restarted: the container is removable, nothing left', async () => {
      const unknownReplies = s().watchUnknownReplies();
      const held = s().proxy.inject({ fault: 'hold', match: createRequest('kctd') });
      const run = s().ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, 'kctd']);
      await held.hit;
      const crashed = s().killAndRestartContainerd();
      held.release(); // the shim finishes Create while containerd is gone
      const r = await run;
      expect(r.code, r.stdout).not.toBe(0);
      await crashed;
      await expectCleanAfterRemoval('kctd', unknownReplies);
    });
  },
);
