// The shim under stress and failure, with real containerd (1.6, 1.7, 2.x), ctr, micad-sim and qemu:
// 10 containers at once, containerd restarted under a running container, the shim daemon
// SIGKILLed, and an image without firmware (Create fails, nothing left behind).
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createMicaClient } from '../../src/mica/client';
import { startContainerd, taskStatus as ctrTaskStatus, type Containerd } from './harness/containerd';
import { importFirmwareImage } from './harness/firmware-image';
import { micadInstances, mountsUnder, qemuChildren as leftoverQemu, shimDaemons as leftoverShimDaemons } from './harness/leftovers';
import { atLeast, describeEachContainerd } from './harness/matrix';
import { firmwarePath, startMicadSim, type MicadSim } from './harness/micad-sim';
import { ociArchive } from './harness/oci-archive';
import { isAlive, stopChild, waitFor } from './harness/processes';

const RUNTIME = 'io.containerd.mica.v2';
const ECHO = 'docker.io/micrun-test/echo:e2e';
const NOFW = 'docker.io/micrun-test/no-firmware:e2e';
const work = mkdtempSync(path.join(tmpdir(), 'micrun-shim-res-'));
let stateDir: string;
let sim: MicadSim;
const retired: MicadSim[] = [];
let ctd: Containerd;
const env = () => ({ MICRUN_MICA_SOCKET_DIR: sim.socketDir, MICRUN_STATE_DIR: stateDir });

/** An OCI archive whose only layer holds /README (no ELF anywhere), entrypoint /firmware.elf. */
const noFirmwareArchive = () =>
  ociArchive(NOFW, [{ name: 'README', data: Buffer.from('no firmware here\n'), mode: 0o644 }], { Entrypoint: ['/firmware.elf'] });

afterAll(() => rmSync(work, { recursive: true, force: true }));

const instances = () => micadInstances(sim.socketDir);
const shimDaemons = () => leftoverShimDaemons(ctd.shimSocketDir);
/** QEMU processes started by this micad-sim (children of its pid). */
const qemuChildren = () => leftoverQemu(sim.pid);
const taskStatus = (id: string) => ctrTaskStatus(ctd, id);

async function removeAll(ids: string[]): Promise<void> {
  for (const id of ids) {
    await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
    await waitFor(async () => (await taskStatus(id)) !== 'RUNNING', { what: `${id} stopped`, timeoutMs: 10_000 }).catch(() => {});
    await ctd.ctr(['task', 'delete', id]);
    await ctd.ctr(['container', 'delete', id]);
  }
}

describeEachContainerd('shim resilience', (build) => {
  beforeAll(async () => {
    const dir = path.join(work, build.version);
    stateDir = path.join(dir, 'state');
    mkdirSync(dir, { recursive: true });
    sim = await startMicadSim();
    ctd = await startContainerd({ env: env(), build });
    await importFirmwareImage(ctd, firmwarePath('echo'), ECHO);
    const nofw = path.join(dir, 'nofw.tar');
    writeFileSync(nofw, noFirmwareArchive());
    const imported = await ctd.ctr(['image', 'import', nofw]);
    expect(imported.code, imported.stderr).toBe(0);
  });

  afterAll(async () => {
    await ctd?.destroy();
    await sim?.stop();
    for (const old of retired.splice(0)) await old.stop();
  });

  test('10 containers at once share the namespace daemon, all cleaned up, the daemon left waiting', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `many-${i}`);
    const results = await Promise.all(ids.map((id) => ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, id], { timeoutMs: 90_000 })));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    for (const id of ids) expect(await taskStatus(id)).toBe('RUNNING');
    expect(instances()).toHaveLength(10);
    const daemons = shimDaemons(); // grouping namespace, the default: one for all ten
    expect(daemons).toHaveLength(1);
    await removeAll(ids);
    await waitFor(() => instances().length === 0, { what: 'no instance left', timeoutMs: 15_000 });
    expect(qemuChildren()).toEqual([]);
    // when_empty wait, the default: the daemon stays for the namespace's next container.
    expect(shimDaemons()).toEqual(daemons);
  });

  test('containerd restarted while a container runs: still listed, killable, deletable', async () => {
    const id = 'survivor';
    expect((await ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, id])).code).toBe(0);
    const [daemon] = shimDaemons();
    // How the restarted containerd finds the daemon differs by version: 1.6/1.7 re-read
    // <bundle>/address; 2.x re-reads the bootstrap.json it wrote from start's output (our default
    // bare address, which it records as version 2 over ttrpc).
    const bundle = path.join(ctd.state, 'io.containerd.runtime.v2.task', 'default', id);
    const address = readFileSync(path.join(bundle, 'address'), 'utf8');
    const bootstrap = path.join(bundle, 'bootstrap.json');
    const expectBootstrap = () => {
      if (atLeast(build, 2)) expect(JSON.parse(readFileSync(bootstrap, 'utf8'))).toEqual({ version: 2, address, protocol: 'ttrpc' });
      else expect(existsSync(bootstrap)).toBe(false);
    };
    expectBootstrap();
    await ctd.stop();
    ctd = await startContainerd({ env: env(), dir: ctd.dir, build });
    expect(isAlive(daemon!)).toBe(true);
    await waitFor(async () => (await taskStatus(id)) === 'RUNNING', { what: 'task listed after restart', timeoutMs: 15_000 });
    expectBootstrap();
    expect((await ctd.ctr(['task', 'kill', id])).code).toBe(0);
    await waitFor(async () => (await taskStatus(id)) === 'STOPPED', { what: 'STOPPED', timeoutMs: 10_000 });
    const del = await ctd.ctr(['task', 'delete', id]);
    expect(del.code, del.stderr).toBe(0);
    expect((await ctd.ctr(['container', 'delete', id])).code).toBe(0);
    await waitFor(() => instances().length === 0, { what: 'no instance left', timeoutMs: 10_000 });
    // Reconnected through <bundle>/address, it served containerd after the restart; now it waits.
    expect(isAlive(daemon!)).toBe(true);
  });

  test('shim daemon SIGKILLed: containerd reports the exit, delete leaves no instance, QEMU or mount', async () => {
    const id = 'victim';
    expect((await ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, id])).code).toBe(0);
    expect(instances()).toEqual([`${id}.socket`]);
    expect(qemuChildren()).toHaveLength(1);
    const events = spawn(ctd.ctrPath, ['--address', ctd.address, 'events'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    events.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const [daemon] = shimDaemons();
      process.kill(daemon!, 'SIGKILL');
      // containerd runs `delete`, then publishes the exit itself with what it printed (137).
      await waitFor(() => /\/tasks\/exit.*"container_id":"victim".*"exit_status":137/.test(seen), {
        what: 'containerd to report the exit of the dead shim\'s task',
        timeoutMs: 15_000,
      });
    } finally {
      await stopChild(events);
    }
    await ctd.ctr(['task', 'delete', id]);
    expect((await ctd.ctr(['container', 'delete', id])).code).toBe(0);
    await waitFor(() => instances().length === 0, { what: 'micad instance removed by `delete`', timeoutMs: 10_000 });
    await waitFor(() => qemuChildren().length === 0, { what: 'QEMU gone', timeoutMs: 10_000 });
    // `delete` removes the instance first, then unmounts: wait for the whole cleanup.
    await waitFor(() => mountsUnder(ctd.state).length === 0, { what: 'rootfs unmounted', timeoutMs: 10_000 });
    await waitFor(() => !readdirSync(path.join(stateDir, 'containers')).includes(id), { what: 'state removed', timeoutMs: 10_000 });
  });

  test('an image without firmware: ctr run fails with the lookup error and nothing is left behind', async () => {
    const r = await ctd.ctr(['run', '--rm', '--runtime', RUNTIME, NOFW, 'nofw-1'], { timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/firmware/i);
    expect(r.stderr).toMatch(/firmware\.elf/);
    expect(instances()).toEqual([]);
    await waitFor(async () => !(await ctd.ctr(['task', 'ls'])).stdout.includes('nofw-1'), { what: 'no task left', timeoutMs: 10_000 });
    await waitFor(() => mountsUnder(ctd.state).length === 0, { what: 'rootfs unmounted', timeoutMs: 10_000 });
    await ctd.ctr(['container', 'delete', 'nofw-1']);
  });

  test('a new daemon removes what a failed delete left behind (record whose bundle is gone)', async () => {
    const mica = createMicaClient({ socketDir: sim.socketDir });
    const fw = path.join(work, 'orphan-fw.elf');
    copyFileSync(firmwarePath('echo'), fw);
    await mica.create({ name: 'leftover', firmwarePath: fw });
    await mica.start('leftover');
    mkdirSync(path.join(stateDir, 'containers', 'leftover'), { recursive: true });
    writeFileSync(path.join(stateDir, 'containers', 'leftover', 'state.json'), JSON.stringify({
      id: 'leftover', namespace: 'default', bundle: path.join(work, 'no-such-bundle'), kind: 'app', instance: 'leftover',
      state: 'running', pid: 1, stdio: { stdin: '', stdout: '', stderr: '', terminal: false }, createdAt: new Date().toISOString(),
    }));
    expect((await ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, 'sweeper'])).code).toBe(0);
    await waitFor(() => !instances().includes('leftover.socket'), { what: 'orphan instance removed', timeoutMs: 10_000 });
    // The sweep removes the instance first, then the record: wait for the record too.
    await waitFor(() => !existsSync(path.join(stateDir, 'containers', 'leftover')), { what: 'orphan record removed', timeoutMs: 5_000 });
    expect(instances()).toEqual(['sweeper.socket']); // what the daemon serves is untouched
    await removeAll(['sweeper']);
  });

  test('micad restarted under a running container: the task exits 255 and delete still cleans up', async () => {
    const id = 'orphan';
    expect((await ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, id])).code).toBe(0);
    const qemu = qemuChildren();
    expect(qemu).toHaveLength(1);
    const oldSim = sim;
    await oldSim.kill(); // micad crashes: its instance sockets stay behind, refusing connections
    await new Promise((r) => setTimeout(r, 600));
    expect(await taskStatus(id)).toBe('RUNNING'); // micad unreachable is not an exit: it may come back
    // micad comes back: like micad, it wipes its socket dir, so the instance is gone.
    sim = await startMicadSim({ socketDir: oldSim.socketDir });
    try {
      await waitFor(async () => (await taskStatus(id)) === 'STOPPED', { what: 'exit noticed after micad restart', timeoutMs: 10_000 });
      const ls = await ctd.ctr(['task', 'ls']);
      expect(ls.stdout).toMatch(new RegExp(`${id}\\s+\\d+\\s+STOPPED`));
      expect((await ctd.ctr(['task', 'delete', id])).code).toBe(0);
      expect((await ctd.ctr(['container', 'delete', id])).code).toBe(0);
      await waitFor(() => mountsUnder(ctd.state).length === 0, { what: 'rootfs unmounted', timeoutMs: 10_000 });
    } finally {
      for (const pid of qemu) if (isAlive(pid)) process.kill(pid, 'SIGKILL'); // the crashed micad's emulator
      retired.push(oldSim); // its temp dirs hold the new sim's socket dir: removed in afterAll
    }
  });
});
