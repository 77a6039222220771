// stdin and attach without a terminal, through containerd 1.6 and ctr: `echo hi | ctr run`
// delivers the bytes and the EOF (ctr's CloseIO) does not stop the RTOS; a detached task keeps
// its console flowing for a later `ctr task attach`, which can come and go more than once.
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { taskStatus as ctrTaskStatus, type Containerd } from './harness/containerd';
import { micadInstances } from './harness/leftovers';
import type { MicadSim } from './harness/micad-sim';
import { describeEachContainerd, useBuildStack } from './harness/matrix';
import { startInteractive, stopChild, waitFor, type Interactive } from './harness/processes';

const RUNTIME = 'io.containerd.mica.v2';
const ECHO = 'docker.io/micrun-test/echo:attach';
const work = mkdtempSync(path.join(tmpdir(), 'micrun-attach-e2e-'));
/** ctr's --fifo-dir, one per build: a later build must not find an earlier one's fifos. */
let fifoDir: string;
let sim: MicadSim;
let ctd: Containerd;
const started: ChildProcess[] = [];

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A ctr process with piped stdio, its output collected. stdin stays open until endInput(). */
function ctr(args: string[]): Interactive {
  const client = startInteractive(ctd.ctrPath, ['--address', ctd.address, '--namespace', 'default', ...args]);
  started.push(client.child);
  return client;
}

/** The fifo ctr created for a container under --fifo-dir (<fifoDir>/<random>/<name>). */
function findFifo(name: string): string {
  for (const dir of readdirSync(fifoDir)) {
    if (readdirSync(path.join(fifoDir, dir)).includes(name)) return path.join(fifoDir, dir, name);
  }
  throw new Error(`no fifo ${name} under ${fifoDir}`);
}

const instanceGone = (id: string) => !micadInstances(sim.socketDir).includes(`${id}.socket`);
const taskStatus = (id: string) => ctrTaskStatus(ctd, id);

describeEachContainerd('stdin EOF and attach without a terminal', (build) => {
  useBuildStack(build, work, {
    stack: { images: [['echo', ECHO]] },
    clients: started,
    started(stack, buildDir) {
      ({ sim, ctd } = stack);
      fifoDir = path.join(buildDir, 'fifo');
    },
  });


  test('echo hi | ctr run: the bytes arrive, EOF does not stop the task, only kill does', async () => {
    const id = 'stdin-eof';
    const client = ctr(['run', '--rm', '--fifo-dir', fifoDir, '--runtime', RUNTIME, ECHO, id]);
    client.write('hi\n');
    client.endInput(); // ctr sees EOF on its stdin and sends CloseIO
    await client.waitFor('echo: hi');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await taskStatus(id)).toBe('RUNNING');
    expect(client.child.exitCode).toBeNull();
    // The console still flows after stdin closed: nothing more is typed, but the task is alive
    // and its exit still reaches the waiting ctr.
    expect((await ctd.ctr(['task', 'kill', id])).code).toBe(0);
    expect(await client.exited).toBe(143);
    await waitFor(() => instanceGone(id), { what: 'instance removed by ctr run --rm', timeoutMs: 10_000 });
  });

  test('ctr run -d keeps the console flowing; output produced while detached waits for ctr task attach, which types, goes away and attaches again', async () => {
    const id = 'bg-attach';
    // Like a user at a shell: ctr's own stdin does not end before it detaches.
    const detached = ctr(['run', '-d', '--fifo-dir', fifoDir, '--runtime', RUNTIME, ECHO, id]);
    expect(await detached.exited, detached.output()).toBe(0);
    await new Promise((r) => setTimeout(r, 1_000)); // the banner is written while nobody reads
    expect(await taskStatus(id)).toBe('RUNNING');

    // While no client is attached, input arrives through the stdin fifo (written here directly,
    // as a client would) and the firmware's reply waits in the stdout fifo for the next reader.
    const stdinFifo = findFifo(`${id}-stdin`);
    const w = openSync(stdinFifo, constants.O_WRONLY | constants.O_NONBLOCK);
    writeSync(w, 'while detached\n');
    closeSync(w);
    await new Promise((r) => setTimeout(r, 1_000));

    const first = ctr(['task', 'attach', id]);
    await first.waitFor('echo: while detached');
    first.write('first attach\n');
    await first.waitFor('echo: first attach');
    // The client goes away (the user's terminal closed): the task keeps running.
    first.child.kill('SIGKILL');
    await first.exited;
    await new Promise((r) => setTimeout(r, 500));
    expect(await taskStatus(id)).toBe('RUNNING');

    const second = ctr(['task', 'attach', id]);
    second.write('second attach\n');
    await second.waitFor('echo: second attach');
    expect(second.output()).not.toContain('echo: first attach'); // already read by the first client

    expect((await ctd.ctr(['task', 'kill', id])).code).toBe(0);
    expect(await second.exited).toBe(143); // attach returns the task's exit status, then deletes the task
    await waitFor(async () => (await taskStatus(id)) === undefined, { what: 'task deleted by ctr task attach', timeoutMs: 10_000 });
    expect((await ctd.ctr(['container', 'delete', id])).code).toBe(0);
    await waitFor(() => instanceGone(id), { what: 'instance removed', timeoutMs: 10_000 });
  });
});
