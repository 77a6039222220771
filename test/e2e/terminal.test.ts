// Terminal mode through a real pty: `ctr run -t` and `ctr task attach` run inside util-linux
// `script`, which gives ctr a pty as its controlling terminal exactly as an interactive shell
// would. ctr puts that pty in raw mode, sends ResizePty with its size (and again on SIGWINCH),
// and copies keystrokes into the stdin fifo; the shim must pass them to the RTOS console
// untouched (Ctrl-C included), apply sizes to the console pty, and keep the task running when
// the client goes away.
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createMicaClient } from '../../src/mica/client';
import { getWindowSize } from '../../src/mica/pty';
import { taskStatus as ctrTaskStatus, type Containerd } from './harness/containerd';
import { micadInstances } from './harness/leftovers';
import type { MicadSim } from './harness/micad-sim';
import { describeEachContainerd, useBuildStack } from './harness/matrix';
import { isAlive, run, startInteractive, stopChild, waitFor, type Interactive } from './harness/processes';

const RUNTIME = 'io.containerd.mica.v2';
const ECHO = 'docker.io/micrun-test/echo:tty';
const work = mkdtempSync(path.join(tmpdir(), 'micrun-tty-e2e-'));
/** ctr's --fifo-dir, one per build: a later build must not find an earlier one's fifos. */
let fifoDir: string;
let sim: MicadSim;
let ctd: Containerd;
const started: ChildProcess[] = [];

afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A command running on the slave of a fresh pty (`script`), fed and read through the master;
 * latin1 both ways, so each typed control byte (Ctrl-C = 0x03) is one char.
 */
function inPty(shellCommand: string): Interactive {
  // -q quiet, -f flush, -e child's exit code, -c command; typescript to /dev/null.
  const session = startInteractive('script', ['-qfec', shellCommand, '/dev/null'], { encoding: 'latin1' });
  started.push(session.child);
  return session;
}

const ctrCommand = (args: string) => `${ctd.ctrPath} --address ${ctd.address} --namespace default ${args}`;

/** The ctr process under `script` (script → sh → exec ctr). */
function ctrUnder(scriptPid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === scriptPid && readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'ctr') return Number(entry);
    } catch {
      // exited while we looked
    }
  }
  return undefined;
}

/** The size of the RTOS console pty as micad-sim announces it for instance `id`. */
async function consoleSize(id: string): Promise<{ cols: number; rows: number }> {
  const mica = createMicaClient({ socketDir: sim.socketDir });
  const { console: consolePath } = await mica.status(id);
  expect(consolePath, 'micad-sim announces a console').toBeTruthy();
  const fd = openSync(consolePath!, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  try {
    return getWindowSize(fd);
  } finally {
    closeSync(fd);
  }
}

const taskStatus = (id: string) => ctrTaskStatus(ctd, id);

describeEachContainerd('ctr run -t / ctr task attach through a real pty', (build) => {
  useBuildStack(build, work, {
    stack: { images: [['echo', ECHO]] },
    clients: started,
    started(stack, buildDir) {
      ({ sim, ctd } = stack);
      fifoDir = path.join(buildDir, 'fifo');
    },
  });


  const id = 'tty-1';

  test('raw console both ways, size and resize reach the console pty, Ctrl-C is a byte for the firmware', async () => {
    const session = inPty(`stty cols 100 rows 40 && exec ${ctrCommand(`run -t --fifo-dir ${fifoDir} --runtime ${RUNTIME} ${ECHO} ${id}`)}`);
    await session.waitFor('micrun echo firmware ready');
    // ctr sent ResizePty with its terminal's size right after Start.
    await waitFor(async () => (await consoleSize(id)).cols === 100, { what: 'console 100 columns', timeoutMs: 5_000 });
    expect(await consoleSize(id)).toEqual({ cols: 100, rows: 40 });

    // Resizing ctr's terminal: the kernel sends ctr SIGWINCH, ctr sends ResizePty again.
    const ctrPid = ctrUnder(session.child.pid!);
    expect(ctrPid, 'ctr runs under script').toEqual(expect.any(Number));
    const ctrTty = readlinkSync(`/proc/${ctrPid}/fd/0`);
    expect(ctrTty).toMatch(/^\/dev\/pts\/\d+$/);
    const stty = await run('stty', ['-F', ctrTty, 'cols', '132', 'rows', '43']);
    expect(stty.code, stty.stderr).toBe(0);
    // stty sets columns and rows with one ioctl each, so ctr may forward 132x40 first: wait for both.
    const resized = async () => {
      const size = await consoleSize(id);
      return size.cols === 132 && size.rows === 43;
    };
    await waitFor(resized, { what: 'console resized to 132x43', timeoutMs: 5_000 });
    expect(await consoleSize(id)).toEqual({ cols: 132, rows: 43 });

    // Ctrl-C in the middle of a line: ctr's raw terminal does not turn it into SIGINT, the shim
    // does not interpret it, the firmware receives it as a byte of the line.
    session.write('abc\x03def\r');
    await session.waitFor('echo: abc\x03def');
    // No local echo anywhere (raw pty, no shim echo): the typed text appears only in the reply.
    expect(session.output().split('abc\x03def').length - 1).toBe(1);
    // A lone Ctrl-C does not stop the task either.
    session.write('\x03');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await taskStatus(id)).toBe('RUNNING');
    expect(isAlive(ctrPid!)).toBe(true);
    session.write('x\r'); // the firmware got the lone 0x03 as the first byte of its line
    await session.waitFor('echo: \x03x');

    // The client going away (ctr killed) leaves the container running.
    process.kill(ctrPid!, 'SIGKILL');
    await session.exited;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await taskStatus(id)).toBe('RUNNING');
  });

  test('ctr task attach re-attaches to the running terminal task with live output and input', async () => {
    expect(await taskStatus(id)).toBe('RUNNING');
    const session = inPty(`stty cols 90 rows 30 && exec ${ctrCommand(`task attach ${id}`)}`);
    // attach sends ResizePty too.
    await waitFor(async () => (await consoleSize(id)).cols === 90, { what: 'console resized by attach', timeoutMs: 10_000 });
    expect(await consoleSize(id)).toEqual({ cols: 90, rows: 30 });
    session.write('after reattach\r');
    await session.waitFor('echo: after reattach');
    // Kill stops the task; the attached ctr sees the exit and returns its status.
    const kill = await ctd.ctr(['task', 'kill', id]);
    expect(kill.code, kill.stderr).toBe(0);
    expect(await session.exited).toBe(143);
    // ctr task attach deletes the task once it has its exit status (defer task.Delete).
    await waitFor(async () => (await taskStatus(id)) === undefined, { what: `${id} deleted by ctr task attach`, timeoutMs: 10_000 });
    const del = await ctd.ctr(['container', 'delete', id]);
    expect(del.code, del.stderr).toBe(0);
    await waitFor(() => !micadInstances(sim.socketDir).includes(`${id}.socket`), { what: 'micad instance removed', timeoutMs: 10_000 });
  });
});
