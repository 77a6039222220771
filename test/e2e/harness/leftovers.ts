// What a test run may leave on the machine, found from /proc and the file system: shim daemons,
// QEMU processes, micad instances, mounts. Tests assert on these ("nothing left"), and
// startContainerd().destroy() uses stopShimDaemons so a failed test leaves no daemon running.
// Everything is found by PID, parent PID or path under a directory the test made — never by
// process name alone, so other people's processes on the shared machine are never touched.
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isAlive, run } from './processes';

/** Numeric /proc entries, read with `read`; processes that exit while we look are skipped. */
function scanProcesses<T>(read: (pid: number) => T | undefined): T[] {
  const found: T[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const value = read(Number(entry));
      if (value !== undefined) found.push(value);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** argv of a process (NUL-separated /proc/<pid>/cmdline). */
export function processArgv(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
}

/** True when `p` is `dir` itself or a path below it (not merely a string prefix: /x/s ≠ /x/s2). */
export function isUnder(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * PIDs of shim daemons serving sockets under `shimSocketDir`: processes whose argv holds the
 * action `serve` and an argument under that dir (the daemon's `-socket <dir>/<hash>`, see
 * src/shim/start.ts). With `id`, only daemons started for that container id (`-id <id>`).
 */
export function shimDaemons(shimSocketDir: string, id?: string): number[] {
  return scanProcesses((pid) => {
    const argv = processArgv(pid);
    if (!argv.includes('serve')) return undefined;
    if (!argv.some((a) => isUnder(a, shimSocketDir))) return undefined;
    if (id !== undefined && !argv.includes(id)) return undefined;
    return pid;
  });
}

/** Parent PID and command name (comm) of a process, from /proc/<pid>/stat. */
function parentAndName(pid: number): { ppid: number; comm: string } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm may hold spaces and parentheses: it runs from the first '(' to the last ')'.
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return { ppid, comm };
}

/** PIDs of the QEMU processes micad-sim `simPid` started (its children named qemu*). */
export function qemuChildren(simPid: number): number[] {
  return scanProcesses((pid) => {
    const { ppid, comm } = parentAndName(pid);
    return ppid === simPid && comm.startsWith('qemu') ? pid : undefined;
  });
}

/**
 * micad's instances: the per-instance socket files (`<name>.socket`) in its socket dir, without
 * `mica-create.socket`. A socket dir that does not exist (micad gone and cleaned) has none.
 */
export function micadInstances(socketDir: string): string[] {
  let files: string[];
  try {
    files = readdirSync(socketDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return files.filter((f) => f.endsWith('.socket') && f !== 'mica-create.socket');
}

/** /proc/self/mounts escapes space, tab, newline and backslash as \ooo (octal). */
const unescapeMountField = (field: string) => field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** Mount points at or below `dir` (the mount point field, not a match anywhere in the line). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((field): field is string => field !== undefined)
    .map(unescapeMountField)
    .filter((mountPoint) => isUnder(mountPoint, dir));
}

/**
 * Temporary mounts `<tmp>/containerd-mount<N>` of a snapshot of the containerd whose root, state
 * and sockets are under `ctdDir`, still mounted. containerd and ctr mount a snapshot there
 * for a moment (Go's mount.WithTempMount, under $TMPDIR — `ctr run` reads the image's /etc/group
 * through one); a process SIGKILLed inside that moment leaves it mounted, and its directory. They
 * are containerd's leftovers, not micrun's, but a test that kills ctr or containerd makes them. A
 * mount is ours only when its mountinfo line names a path under `ctdDir` (an overlay's lower and
 * upper dirs, a bind mount's root): another test's temp mounts are never counted or touched.
 */
export function containerdTempMounts(ctdDir: string, tmp = tmpdir()): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(`${ctdDir}/`))
    .map((line) => line.split(' ')[4])
    .filter((field): field is string => field !== undefined)
    .map(unescapeMountField)
    .filter((mountPoint) => path.dirname(mountPoint) === tmp && path.basename(mountPoint).startsWith('containerd-mount'));
}

/** Unmounts and removes what containerdTempMounts() found (lazily: a reader may still be in it). */
export async function removeContainerdTempMounts(ctdDir: string): Promise<string[]> {
  const found = containerdTempMounts(ctdDir);
  for (const mountPoint of found) {
    await run('umount', ['-l', mountPoint]);
    try {
      rmdirSync(mountPoint); // empty once unmounted; never a recursive remove of what may be a mount
    } catch {
      // still busy (a lazy unmount in progress) or already gone
    }
  }
  return found;
}

/**
 * Stops the shim daemons under `shimSocketDir` by PID: SIGTERM, wait up to `graceMs`, then
 * SIGKILL and wait until they are gone. Resolves with the PIDs it found (empty: nothing to do).
 */
export async function stopShimDaemons(shimSocketDir: string, graceMs = 5_000): Promise<number[]> {
  const pids = shimDaemons(shimSocketDir);
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  const waitGone = async (untilMs: number) => {
    while (pids.some(isAlive) && Date.now() < untilMs) await new Promise((r) => setTimeout(r, 50));
  };
  await waitGone(Date.now() + graceMs);
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
  await waitGone(Date.now() + 5_000);
  const stuck = pids.filter(isAlive);
  if (stuck.length > 0) throw new Error(`shim daemons ${stuck.join(', ')} under ${shimSocketDir} survived SIGKILL`);
  return pids;
}
