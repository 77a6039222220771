// containerd (1.6, 1.7 and 2.x) + ctr drive containerd-shim-mica-v2 against micad-sim running the firmware in
// qemu-system-arm: run to completion, detached lifecycle, stdin, many containers, and a firmware
// lookup failure that must leave nothing behind.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { taskStatus as ctrTaskStatus, type Containerd } from './harness/containerd';
import { micadInstances, shimDaemons as leftoverShimDaemons } from './harness/leftovers';
import type { MicadSim } from './harness/micad-sim';
import { describeEachContainerd, useBuildStack } from './harness/matrix';
import { waitFor } from './harness/processes';

const RUNTIME = 'io.containerd.mica.v2';
const work = mkdtempSync(path.join(tmpdir(), 'micrun-shim-e2e-'));
let stateDir: string;
let sim: MicadSim;
let ctd: Containerd;

const IMAGES = {
  echo: 'docker.io/micrun-test/echo:e2e',
  exit3: 'docker.io/micrun-test/exit-3:e2e',
  nofw: 'docker.io/micrun-test/no-firmware:e2e',
};

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Instances micad-sim still has (its per-instance sockets). */
const instances = () => micadInstances(sim.socketDir);
/** PIDs of shim daemons serving this containerd (their sockets live in its shim socket dir). */
const shimDaemons = () => leftoverShimDaemons(ctd.shimSocketDir);
const taskStatus = (id: string) => ctrTaskStatus(ctd, id);

describeEachContainerd('ctr + micad-sim', (build) => {
  useBuildStack(build, work, {
    stack: { images: [['echo', IMAGES.echo], ['exit-3', IMAGES.exit3]] },
    started(stack, buildDir) {
      ({ sim, ctd } = stack);
      stateDir = path.join(buildDir, 'state');
    },
  });


  test('ctr run --rm prints the firmware output and returns its exit code', async () => {
    const r = await ctd.ctr(['run', '--rm', '--runtime', RUNTIME, IMAGES.exit3, 'exit3-a'], { timeoutMs: 60_000 });
    expect(r.stdout).toContain('micrun exit firmware starting');
    expect(r.stdout).toContain('exiting with code 3');
    expect(r.code).toBe(3);
    await waitFor(() => instances().length === 0, { what: 'micad instance removed', timeoutMs: 10_000 });
    expect((await ctd.ctr(['container', 'ls', '-q'])).stdout).not.toContain('exit3-a');
    expect(existsSync(path.join(stateDir, 'containers', 'exit3-a'))).toBe(false);
  });

  test('the same id can run again right after ctr run --rm returned', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await ctd.ctr(['run', '--rm', '--runtime', RUNTIME, IMAGES.exit3, 'again']);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stdout).toContain('exiting with code 3');
    }
    await waitFor(() => instances().length === 0, { what: 'no micad instance', timeoutMs: 10_000 });
  });

  test('detached: task ls / ps / metrics / pause / resume / kill / delete', async () => {
    const id = 'echo-d';
    const r = await ctd.ctr(['run', '-d', '--runtime', RUNTIME, IMAGES.echo, id]);
    expect(r.code, r.stderr).toBe(0);
    expect(await taskStatus(id)).toBe('RUNNING');
    const ps = await ctd.ctr(['task', 'ps', id]);
    expect(ps.code, ps.stderr).toBe(0);
    const daemon = shimDaemons();
    expect(daemon).toHaveLength(1);
    expect(ps.stdout).toMatch(new RegExp(`\\b(${daemon.join('|')})\\b`));
    const metrics = await ctd.ctr(['task', 'metrics', id]);
    expect(metrics.code, metrics.stderr).toBe(0);
    expect(metrics.stdout).toMatch(/memory\.usage_in_bytes\s+[1-9]/);
    expect((await ctd.ctr(['task', 'pause', id])).code).toBe(0);
    expect(await taskStatus(id)).toBe('PAUSED');
    expect((await ctd.ctr(['task', 'resume', id])).code).toBe(0);
    expect(await taskStatus(id)).toBe('RUNNING');
    const exec = await ctd.ctr(['task', 'exec', '--exec-id', 'sh1', id, '/bin/sh']);
    expect(exec.code).not.toBe(0);
    expect(exec.stderr).toMatch(/exec is not supported/);
    const checkpoint = await ctd.ctr(['task', 'checkpoint', id]);
    expect(checkpoint.code).not.toBe(0);
    expect(checkpoint.stderr).toMatch(/checkpoint is not supported|not implemented/);
    expect(await taskStatus(id)).toBe('RUNNING');
    const bad = await ctd.ctr(['task', 'kill', '--signal', 'SIGHUP', id]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/SIGHUP/);
    expect((await ctd.ctr(['task', 'kill', id])).code).toBe(0);
    await waitFor(async () => (await taskStatus(id)) === 'STOPPED', { what: 'STOPPED', timeoutMs: 10_000 });
    const del = await ctd.ctr(['task', 'delete', id]);
    expect(del.code, del.stderr).toBe(0);
    expect((await ctd.ctr(['container', 'delete', id])).code).toBe(0);
    await waitFor(() => instances().length === 0, { what: 'no micad instance', timeoutMs: 10_000 });
    // The namespace's daemon (the defaults: grouping namespace, when_empty wait) stays, serving
    // nothing, for the namespace's next container.
    expect(shimDaemons()).toEqual(daemon);
  });

  test('stdin reaches the echo firmware (ctr run, stdin attached)', async () => {
    const id = 'echo-i';
    const child = spawn(ctd.ctrPath, ['--address', ctd.address, 'run', '--rm', '--runtime', RUNTIME, IMAGES.echo, id], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes('micrun echo firmware ready'), { what: 'banner', timeoutMs: 20_000 }).catch((e) => {
        throw new Error(`${(e as Error).message}; ctr output: ${JSON.stringify(out)}`);
      });
      child.stdin!.write('hello micrun\n');
      await waitFor(() => out.includes('echo: hello micrun'), { what: 'echo of stdin', timeoutMs: 10_000 });
    } finally {
      await ctd.ctr(['task', 'kill', id]);
    }
    expect(await exited).toBe(143);
    await waitFor(() => instances().length === 0, { what: 'no micad instance', timeoutMs: 10_000 });
  });

  test('containerd logged no error or warning about the shim during these runs', () => {
    const log = ctd.log().split('\n');
    // Not about us: devmapper is unconfigured here; and containerd 1.6 logs "cleaning up after
    // shim disconnected" after every normal Shutdown (runc's shim too) before running `delete`.
    const expected = /devmapper|cleaning up after shim disconnected/;
    const bad = log.filter((l) => (/level=(error|warning)/.test(l) || /"level":"(error|warn)"/.test(l)) && !expected.test(l));
    expect(bad).toEqual([]);
    expect(log.some((l) => l.includes('cleaning up after shim disconnected'))).toBe(true); // the filter is not vacuous
  });
});
