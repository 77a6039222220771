// `ctr run --log-uri` through containerd 1.6 to the shim: file:// appends the RTOS console to a
// file, binary:// starts a logging binary with containerd's contract (fds 3/4 = stdout/stderr
// read ends, fd 5 = ready, argv from the query, environment of only CONTAINER_ID and
// CONTAINER_NAMESPACE) — what nerdctl's log driver relies on and the Go micrun never did.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { repoRoot, taskStatus as ctrTaskStatus, type Containerd } from './harness/containerd';
import { micadInstances } from './harness/leftovers';
import type { MicadSim } from './harness/micad-sim';
import { describeEachContainerd, useBuildStack } from './harness/matrix';
import { isAlive, waitFor } from './harness/processes';

const RUNTIME = 'io.containerd.mica.v2';
const IMAGES = { echo: 'docker.io/micrun-test/echo:log', exit3: 'docker.io/micrun-test/exit-3:log' };
const LOGGER = path.join(repoRoot, 'test', 'fixtures', 'logger', 'logger.sh');
const work = mkdtempSync(path.join(tmpdir(), 'micrun-log-e2e-'));
/** This build's own dir below work: the log files of one build must not see another's runs. */
let buildDir: string;
let sim: MicadSim;
let ctd: Containerd;

afterAll(() => rmSync(work, { recursive: true, force: true }));

const instanceGone = (id: string) => !micadInstances(sim.socketDir).includes(`${id}.socket`);

const taskStatus = (id: string) => ctrTaskStatus(ctd, id);

async function killAndDelete(id: string): Promise<void> {
  expect((await ctd.ctr(['task', 'kill', id])).code).toBe(0);
  await waitFor(async () => (await taskStatus(id)) === 'STOPPED', { what: `${id} STOPPED`, timeoutMs: 15_000 });
  expect((await ctd.ctr(['task', 'delete', id])).code).toBe(0);
  expect((await ctd.ctr(['container', 'delete', id])).code).toBe(0);
  await waitFor(() => instanceGone(id), { what: `${id} micad instance removed`, timeoutMs: 10_000 });
}

describeEachContainerd('ctr run --log-uri', (build) => {
  useBuildStack(build, work, {
    stack: { images: [['echo', IMAGES.echo], ['exit-3', IMAGES.exit3]] },
    started(stack, dir) {
      ({ sim, ctd } = stack);
      buildDir = dir;
    },
  });


  test('file:// appends the console of a run-to-completion task to the file; ctr run returns its exit code', async () => {
    const log = path.join(buildDir, 'logs', 'exit3.log');
    const r1 = await ctd.ctr(['run', '--rm', '--runtime', RUNTIME, '--log-uri', `file://${log}`, IMAGES.exit3, 'log-file-1'], { timeoutMs: 60_000 });
    expect(r1.code, r1.stderr).toBe(3);
    expect(r1.stdout).not.toContain('exiting with code 3'); // it went to the file, not to ctr
    const first = readFileSync(log, 'utf8');
    expect(first).toContain('micrun exit firmware starting');
    expect(first).toContain('exiting with code 3');
    // A second run appends.
    const r2 = await ctd.ctr(['run', '--rm', '--runtime', RUNTIME, '--log-uri', `file://${log}`, IMAGES.exit3, 'log-file-2'], { timeoutMs: 60_000 });
    expect(r2.code, r2.stderr).toBe(3);
    const both = readFileSync(log, 'utf8');
    expect(both.startsWith(first)).toBe(true);
    expect(both.split('micrun exit firmware starting').length - 1).toBe(2);
    await waitFor(() => instanceGone('log-file-2'), { what: 'instance removed', timeoutMs: 10_000 });
  });

  test('file:// keeps appending a detached task console after earlier content', async () => {
    const log = path.join(buildDir, 'detached.log');
    writeFileSync(log, 'line written before the task\n');
    const id = 'log-file-d';
    const r = await ctd.ctr(['run', '-d', '--runtime', RUNTIME, '--log-uri', `file://${log}`, IMAGES.echo, id]);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(() => readFileSync(log, 'utf8').includes('micrun echo firmware ready'), { what: 'banner in the log file', timeoutMs: 20_000 });
    expect(readFileSync(log, 'utf8').startsWith('line written before the task\n')).toBe(true);
    await killAndDelete(id);
  });

  test('binary:// starts the logging binary with fds 3/4/5, query args and only CONTAINER_ID/CONTAINER_NAMESPACE; it gets the banner and stops after the task', async () => {
    const prefix = path.join(buildDir, 'bin-logger');
    const id = 'log-binary';
    // Shaped like nerdctl's log driver URI (binary:///usr/local/bin/nerdctl?_NERDCTL_INTERNAL_LOGGING=<dir>).
    const nerdctlKey = '_NERDCTL_INTERNAL_LOGGING';
    const uri = `binary://${LOGGER}?${nerdctlKey}=${encodeURIComponent('/var/lib/nerdctl/1935db59')}&out=${encodeURIComponent(prefix)}&mode=normal`;
    const r = await ctd.ctr(['run', '-d', '--runtime', RUNTIME, '--log-uri', uri, IMAGES.echo, id]);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(() => {
      try {
        return readFileSync(`${prefix}.stdout`, 'utf8').includes('micrun echo firmware ready');
      } catch {
        return false;
      }
    }, { what: 'banner at the logging binary (fd 3)', timeoutMs: 20_000 });

    const environ = readFileSync(`${prefix}.environ`, 'utf8').split('\0').filter(Boolean).sort();
    expect(environ).toEqual([`CONTAINER_ID=${id}`, 'CONTAINER_NAMESPACE=default']);
    expect(readFileSync(`${prefix}.argv`, 'utf8').trim().split('\n')).toEqual([LOGGER, nerdctlKey, '/var/lib/nerdctl/1935db59', 'out', prefix, 'mode', 'normal']);
    const starts = readFileSync(`${prefix}.starts`, 'utf8').trim().split('\n').map(Number);
    expect(starts).toHaveLength(1);
    const loggerPid = starts[0]!;
    expect(isAlive(loggerPid)).toBe(true);

    await killAndDelete(id);
    // Task exit closes fds 3/4: the logger sees EOF and exits on its own.
    await waitFor(() => !isAlive(loggerPid), { what: 'logging binary exited', timeoutMs: 15_000 });
    expect(readFileSync(`${prefix}.stderr`, 'utf8')).toBe(''); // the RTOS has one console: all on stdout
  });

  test('binary:// with a binary that does not exist fails ctr run with a message naming it and leaves nothing', async () => {
    const missing = path.join(buildDir, 'no-such-logger');
    const id = 'log-missing';
    const r = await ctd.ctr(['run', '-d', '--runtime', RUNTIME, '--log-uri', `binary://${missing}`, IMAGES.echo, id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(missing);
    expect(await taskStatus(id)).toBeUndefined();
    expect(instanceGone(id)).toBe(true);
    await ctd.ctr(['container', 'delete', id]);
  });
});
