// Mounts the rootfs that containerd hands to Task Create (overlay or bind snapshots) and takes it
// down again. We shell out to /bin/mount with an argument array (no shell): it already knows
// every option string containerd produces (rbind, ro, lowerdir=…), and the cost is one
// fork+exec per container create (a few ms, see docs/resources.md "measured").
import { execFile } from 'node:child_process';
import { mkdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { fsError, internal, invalidArgument } from '../errors';
import { resolveInRoot } from './firmware';

export interface RootfsMount {
  type: string;
  source: string;
  /** containerd 2.x may give a target below the rootfs; absent means the rootfs itself. */
  target?: string;
  options: string[];
}

const MOUNT = '/bin/mount';
const UMOUNT = '/bin/umount';
const EXEC_TIMEOUT_MS = 10_000;

/**
 * Mounts `mounts` in order onto `rootfsDir` (created if missing). With no mounts there is nothing
 * to do: the bundle's root.path is the rootfs. On failure the mounts already made are undone.
 */
export async function mountRootfs(mounts: readonly RootfsMount[], rootfsDir: string): Promise<void> {
  if (mounts.length === 0) return;
  await makeDir(rootfsDir, 'the rootfs mount point');
  const done: string[] = [];
  try {
    for (const [i, m] of mounts.entries()) {
      const target = await mountTarget(rootfsDir, m.target, i);
      await run(MOUNT, mountArgs(m, target), `mount ${m.type} ${m.source} on ${target}`);
      done.push(target);
    }
  } catch (err) {
    for (const target of done.reverse()) await unmountAll(target).catch(() => {});
    throw err;
  }
}

/** The /bin/mount argument list for one containerd mount. Exported for tests. */
export function mountArgs(m: RootfsMount, target: string): string[] {
  const isBind = m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
  const args: string[] = [];
  if (!isBind) args.push('-t', m.type || 'none');
  const options = m.options.filter((o) => o !== '');
  if (isBind && !options.includes('bind') && !options.includes('rbind')) options.unshift('rbind');
  if (options.length > 0) args.push('-o', options.join(','));
  args.push('--', m.source || 'none', target);
  return args;
}

/**
 * Unmounts everything mounted at `rootfsDir` (stacked mounts included). Not mounted → nothing
 * to do; a busy mount is detached lazily so delete can always finish.
 */
export async function unmountRootfs(rootfsDir: string): Promise<void> {
  await unmountAll(rootfsDir);
}

async function unmountAll(dir: string): Promise<void> {
  let real: string;
  try {
    real = await realpath(dir);
  } catch {
    return; // the directory is gone: nothing can be mounted there
  }
  for (let i = 0; i < 32 && (await isMountPoint(real)); i++) {
    try {
      await run(UMOUNT, [real], `umount ${real}`);
    } catch (err) {
      if (!/busy/i.test((err as Error).message)) throw err;
      await run(UMOUNT, ['-l', real], `umount -l ${real}`);
    }
  }
}

/** True when `dir` (a real path) is a mount point in this mount namespace. */
export async function isMountPoint(dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch((err: unknown) => {
    throw fsError('read /proc/self/mountinfo', err);
  });
  for (const line of info.split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint !== undefined && unescapeMountinfo(mountPoint) === dir) return true;
  }
  return false;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The host path for a mount `target` below the rootfs (containerd 2.x), resolved as if the rootfs
 * were `/` after the mounts before it are in place: the image is untrusted, and a symlink in it
 * (`/mnt -> /etc`, or one climbing with `..`) must never redirect a mount onto the host. Missing
 * directories are created one component at a time inside what has already been resolved.
 */
async function mountTarget(rootfsDir: string, target: string | undefined, index: number): Promise<string> {
  const parts = (target ?? '').split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) throw invalidArgument(`rootfs mount ${index} has target "${target}": ".." is not allowed in a mount target`);
  let inRoot = '/';
  for (const part of parts) {
    const next = path.posix.join(inRoot, part);
    const r = await resolveInRoot(rootfsDir, next);
    if (r.ok) {
      inRoot = r.rootfsPath;
      continue;
    }
    if (!r.missing) throw invalidArgument(`rootfs mount ${index} has target "${target}": ${r.reason}`);
    await makeDir(path.join(rootfsDir, inRoot, part), `the target of rootfs mount ${index}`);
    inRoot = next;
  }
  return inRoot === '/' ? rootfsDir : path.join(rootfsDir, inRoot);
}

async function makeDir(dir: string, what: string): Promise<void> {
  await mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw fsError(`create ${what} ${dir}`, err);
  });
}

function run(cmd: string, args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: EXEC_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const detail = String(stderr).trim() || err.message;
      reject(internal(`${what} failed: ${detail}`, err));
    });
  });
}
