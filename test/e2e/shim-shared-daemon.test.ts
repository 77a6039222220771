// Grouping `namespace` (config shim.grouping, here through MICRUN_SHIM_GROUPING in containerd's
// environment): every container of a containerd namespace shares one shim daemon. Pinned with
// real containerd 1.6, ctr, micad-sim and qemu: the daemon's lifecycle under containerd's
// contract for shared shims (a Shutdown after every delete; the daemon stops serving only when
// nothing is left, then exits or waits for the namespace's next container per shim.when_empty,
// set per test through the config file, which each new daemon reads), one daemon per namespace,
// and a SIGKILLed shared daemon — every container it served is reported exited and cleaned up,
// nothing left.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { taskStatus } from './harness/containerd';
import { micadInstances, mountsUnder, qemuChildren, shimDaemons } from './harness/leftovers';
import { startMicrunStack, type MicrunStack } from './harness/micrun-stack';
import { isAlive, stopChild, waitFor } from './harness/processes';

const RUNTIME = 'io.containerd.mica.v2';
const ECHO = 'docker.io/micrun-test/echo:e2e';
const EXIT0 = 'docker.io/micrun-test/exit-0:e2e';
const work = mkdtempSync(path.join(tmpdir(), 'micrun-shared-'));
const stateDir = path.join(work, 'state');
const configFile = path.join(work, 'config.toml');
let stack: MicrunStack;

/** shim.when_empty for the daemons started from now on. */
const whenEmpty = (value: 'wait' | 'exit') => writeFileSync(configFile, `[shim]\nwhen_empty = "${value}"\n`);

beforeAll(async () => {
  stack = await startMicrunStack({
    stateDir,
    images: [
      ['echo', ECHO],
      ['exit-0', EXIT0],
    ],
    containerd: { env: { MICRUN_SHIM_GROUPING: 'namespace', MICRUN_CONFIG: configFile } },
  });
});

afterAll(async () => {
  await stack?.destroy();
  rmSync(work, { recursive: true, force: true });
});

const ctr = (args: string[], namespace?: string) => stack.ctd.ctr(args, { namespace, timeoutMs: 60_000 });
const daemons = () => shimDaemons(stack.ctd.shimSocketDir);
const records = () => (existsSync(path.join(stateDir, 'containers')) ? readdirSync(path.join(stateDir, 'containers')) : []);

async function runDetached(id: string, namespace?: string): Promise<void> {
  const r = await ctr(['run', '-d', '--runtime', RUNTIME, ECHO, id], namespace);
  expect(r.code, r.stderr).toBe(0);
  expect(await taskStatus(stack.ctd, id, namespace)).toBe('RUNNING');
}

async function remove(id: string, namespace?: string): Promise<void> {
  await ctr(['task', 'kill', '-s', 'SIGKILL', id], namespace);
  await waitFor(async () => (await taskStatus(stack.ctd, id, namespace)) === 'STOPPED', { what: `${id} stopped`, timeoutMs: 15_000 });
  const deleted = await ctr(['task', 'delete', id], namespace);
  expect(deleted.code, deleted.stderr).toBe(0);
  expect((await ctr(['container', 'delete', id], namespace)).code).toBe(0);
}

async function expectNothingLeft(): Promise<void> {
  await waitFor(() => daemons().length === 0, { what: 'no shim daemon left', timeoutMs: 15_000 });
  await waitFor(() => micadInstances(stack.sim.socketDir).length === 0, { what: 'no micad instance left', timeoutMs: 15_000 });
  await waitFor(() => qemuChildren(stack.sim.pid).length === 0, { what: 'no QEMU left', timeoutMs: 15_000 });
  await waitFor(() => mountsUnder(stack.ctd.state).length === 0, { what: 'no rootfs mount left', timeoutMs: 15_000 });
  await waitFor(() => records().length === 0, { what: 'no state record left', timeoutMs: 15_000 });
  expect(readdirSync(stack.ctd.shimSocketDir)).toEqual([]);
}

describe('a daemon shared by a namespace', () => {
  test('containers of one namespace share one daemon; when_empty "exit": it exits after the last one is deleted', async () => {
    whenEmpty('exit');
    const ids = ['shared-a', 'shared-b', 'shared-c'];
    for (const id of ids) await runDetached(id);
    const [daemon, ...others] = daemons();
    expect(others).toEqual([]);
    // Every bundle names the one daemon (containerd 1.6/1.7 re-read `address` after a restart).
    const addresses = new Set(ids.map((id) => readFileSync(path.join(stack.ctd.state, 'io.containerd.runtime.v2.task', 'default', id, 'address'), 'utf8')));
    expect(addresses.size).toBe(1);

    // containerd sends Shutdown after each delete: the daemon stays while it serves anything.
    await remove('shared-a');
    await remove('shared-b');
    expect(isAlive(daemon!)).toBe(true);
    expect(await taskStatus(stack.ctd, 'shared-c')).toBe('RUNNING');
    expect(micadInstances(stack.sim.socketDir)).toEqual(['shared-c.socket']);

    await remove('shared-c');
    await waitFor(() => !isAlive(daemon!), { what: 'the shared daemon to exit after its last container', timeoutMs: 15_000 });
    await expectNothingLeft();
  });

  test('another namespace gets a daemon of its own', async () => {
    whenEmpty('exit');
    // The image lives in `default`; import it for the second namespace through ctr's export/import.
    const tar = path.join(work, 'echo.tar');
    expect((await ctr(['image', 'export', tar, ECHO])).code).toBe(0);
    expect((await ctr(['image', 'import', tar], 'other')).code).toBe(0);
    await runDetached('ns-default');
    await runDetached('ns-other', 'other');
    expect(daemons()).toHaveLength(2);
    await remove('ns-default');
    await remove('ns-other', 'other');
    await expectNothingLeft();
  });

  test('when_empty "wait" (default): ctr run --rm one after another, all served by one daemon that stays idle until its config file changes', async () => {
    whenEmpty('wait');
    const served = new Set<number>();
    for (const id of ['rm-1', 'rm-2', 'rm-3']) {
      const r = await ctr(['run', '--rm', '--runtime', RUNTIME, EXIT0, id]);
      expect(r.code, r.stderr).toBe(0);
      for (const pid of daemons()) served.add(pid);
    }
    expect(served.size).toBe(1);
    const [daemon] = [...served];
    // containerd has sent its Shutdown for each; the daemon waits, serving nothing.
    await new Promise((r) => setTimeout(r, 500));
    expect(isAlive(daemon!)).toBe(true);
    expect(micadInstances(stack.sim.socketDir)).toEqual([]);
    // An edited config applies to daemons started afterwards: the waiting one makes way.
    writeFileSync(configFile, '[shim]\nwhen_empty = "wait"\n# edited\n');
    await waitFor(() => !isAlive(daemon!), { what: 'the idle daemon to end after its config file changed', timeoutMs: 15_000 });
    await expectNothingLeft();
  });

  test('a SIGKILLed shared daemon: every container it served is reported exited and cleaned up, nothing left', async () => {
    whenEmpty('wait');
    const ids = ['victim-1', 'victim-2', 'victim-3'];
    for (const id of ids) await runDetached(id);
    expect(qemuChildren(stack.sim.pid)).toHaveLength(3);
    const events = spawn(path.join(stack.ctd.build.binDir, 'ctr'), ['--address', stack.ctd.address, 'events'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    events.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const [daemon, ...others] = daemons();
      expect(others).toEqual([]);
      process.kill(daemon!, 'SIGKILL');
      // containerd notices the dropped connection of each task, runs `delete` for it and
      // publishes the exit with what `delete` printed (137: it had to stop a live instance).
      for (const id of ids) {
        await waitFor(() => new RegExp(`/tasks/exit.*"container_id":"${id}".*"exit_status":137`).test(seen), {
          what: `containerd to report the exit of ${id}`,
          timeoutMs: 20_000,
        });
      }
    } finally {
      await stopChild(events);
    }
    for (const id of ids) {
      await ctr(['task', 'delete', id]);
      expect((await ctr(['container', 'delete', id])).code).toBe(0);
    }
    await expectNothingLeft();
  });
});
