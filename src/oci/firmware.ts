// Finds the firmware ELF in a container rootfs and stages a private copy for micad.
//
// Lookup order (design.md "firmware lookup"): annotation container.firmware_path → process.args[0]
// when it names a file in the rootfs → /firmware.elf → the single *.elf at the rootfs top. Every
// path is resolved component by component as if the rootfs were `/`: an absolute symlink target
// restarts at the rootfs, and any `..` or relative symlink that would climb above it is refused.
// The rootfs comes from an image we do not trust, so the host must never be read through it.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Code, CodedError, fsError, invalidArgument, notFound } from '../errors';

const MAX_SYMLINKS = 40; // same bound as Linux path resolution (ELOOP)
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export type FirmwareSource = 'annotation' | 'entrypoint' | 'default' | 'scan';

export interface FoundFirmware {
  /** Host path of the file, with every symlink already resolved inside the rootfs. */
  hostPath: string;
  /** The same file as seen inside the rootfs, e.g. "/firmware.elf". */
  rootfsPath: string;
  source: FirmwareSource;
  size: number;
  /** Expected sha256 (from container.firmware_hash), checked again while staging. */
  expectedSha256?: string;
}

export interface FirmwareQuery {
  rootfs: string;
  /** annotation container.firmware_path */
  firmwarePath?: string;
  /** annotation container.firmware_hash (lower-case hex) */
  sha256?: string;
  /** process.args */
  args?: readonly string[];
  /** process.cwd, for a relative args[0]; default "/" */
  cwd?: string;
}

interface Attempt {
  what: string;
  reason: string;
  /** true when the candidate simply does not exist (the lookup may go on). */
  missing: boolean;
}

type Resolved = { ok: true; hostPath: string; rootfsPath: string; size: number } | { ok: false; reason: string; missing: boolean };

export async function findFirmware(q: FirmwareQuery): Promise<FoundFirmware> {
  const attempts: Attempt[] = [];
  const accept = async (found: Resolved & { ok: true }, source: FirmwareSource): Promise<FoundFirmware> => {
    const fw: FoundFirmware = { hostPath: found.hostPath, rootfsPath: found.rootfsPath, source, size: found.size };
    if (q.sha256) {
      const actual = await sha256File(found.hostPath).catch((err: unknown) => {
        throw fsError(`read firmware ${found.rootfsPath} in ${q.rootfs} to check its sha256`, err);
      });
      if (actual !== q.sha256) {
        throw invalidArgument(
          `firmware ${found.rootfsPath} in ${q.rootfs} has sha256 ${actual}, but annotation ` +
            `org.openeuler.micrun.container.firmware_hash expects ${q.sha256}`,
        );
      }
      fw.expectedSha256 = q.sha256;
    }
    return fw;
  };

  // An explicit annotation is the user's choice: if it is wrong we stop instead of guessing.
  if (q.firmwarePath !== undefined) {
    const r = await resolveFirmwareFile(q.rootfs, q.firmwarePath);
    if (r.ok) return accept(r, 'annotation');
    attempts.push({ what: `annotation container.firmware_path=${q.firmwarePath}`, reason: r.reason, missing: r.missing });
    throw lookupError(q.rootfs, attempts);
  }

  const arg0 = q.args?.[0];
  if (arg0) {
    const p = path.posix.isAbsolute(arg0) ? arg0 : path.posix.join(q.cwd ?? '/', arg0);
    const r = await resolveFirmwareFile(q.rootfs, p);
    if (r.ok) return accept(r, 'entrypoint');
    attempts.push({ what: `process.args[0]=${arg0}`, reason: r.reason, missing: r.missing });
  }

  const def = await resolveFirmwareFile(q.rootfs, '/firmware.elf');
  if (def.ok) return accept(def, 'default');
  attempts.push({ what: '/firmware.elf', reason: def.reason, missing: def.missing });

  const scan = await scanTopLevelElf(q.rootfs);
  if (scan.ok) return accept(scan, 'scan');
  attempts.push({ what: '*.elf at the rootfs top', reason: scan.reason, missing: scan.missing });
  throw lookupError(q.rootfs, attempts);
}

function lookupError(rootfs: string, attempts: Attempt[]) {
  const list = attempts.map((a) => `${a.what}: ${a.reason}`).join('; ');
  const hint = 'put the firmware at /firmware.elf in the image or name it with annotation org.openeuler.micrun.container.firmware_path';
  const message = `no usable firmware in rootfs ${rootfs} (tried ${list}); ${hint}`;
  return attempts.every((a) => a.missing) ? notFound(message) : invalidArgument(message);
}

/** Resolves `p` inside `root` and checks it is a regular ELF file. */
async function resolveFirmwareFile(root: string, p: string): Promise<Resolved> {
  const r = await resolveInRoot(root, p);
  if (!r.ok) return r;
  return checkFile(r.hostPath, r.rootfsPath);
}

/**
 * Resolves `p` as if `root` were `/`. Refuses (rather than clamps) any climb above the root, so an
 * escaping path reads as an error the user can see instead of silently naming another file.
 */
export async function resolveInRoot(
  root: string,
  p: string,
): Promise<{ ok: true; hostPath: string; rootfsPath: string } | { ok: false; reason: string; missing: boolean }> {
  const pending = p.split('/').filter((c) => c !== '' && c !== '.');
  const stack: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '..') {
      if (stack.length === 0) return { ok: false, reason: `"${p}" escapes the rootfs through ".."`, missing: false };
      stack.pop();
      continue;
    }
    const rel = '/' + [...stack, c].join('/');
    const host = path.join(root, ...stack, c);
    let st;
    try {
      st = await lstat(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { ok: false, reason: `${rel} does not exist`, missing: true };
      if (code === 'ENOTDIR') return { ok: false, reason: `${rel}: a parent is not a directory`, missing: true };
      return { ok: false, reason: `${rel}: ${(err as Error).message}`, missing: false };
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return { ok: false, reason: `"${p}": too many symlinks`, missing: false };
      const target = await readlink(host).catch((err: unknown) => {
        throw fsError(`read symlink ${rel} in ${root}`, err);
      });
      if (target.startsWith('/')) stack.length = 0; // absolute targets mean the rootfs's own `/`
      pending.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      continue;
    }
    if (pending.length > 0 && !st.isDirectory()) return { ok: false, reason: `${rel} is not a directory`, missing: true };
    stack.push(c);
  }
  return { ok: true, hostPath: path.join(root, ...stack), rootfsPath: '/' + stack.join('/') };
}

async function checkFile(hostPath: string, rootfsPath: string, requireElf = true): Promise<Resolved> {
  let fh;
  try {
    // O_NOFOLLOW: the path was just resolved without symlinks; a swap since then must not be followed.
    fh = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return { ok: false, reason: `${rootfsPath}: cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, missing: false };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, reason: `${rootfsPath} is not a regular file`, missing: false };
    if (!requireElf) return { ok: true, hostPath, rootfsPath, size: st.size };
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    if (bytesRead < 4 || !head.equals(ELF_MAGIC)) return { ok: false, reason: `${rootfsPath} is not an ELF file`, missing: false };
    return { ok: true, hostPath, rootfsPath, size: st.size };
  } finally {
    await fh.close();
  }
}

async function scanTopLevelElf(root: string): Promise<Resolved> {
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => n.toLowerCase().endsWith('.elf') && n !== 'firmware.elf').sort();
  } catch (err) {
    return { ok: false, reason: `cannot list the rootfs: ${(err as Error).message}`, missing: (err as NodeJS.ErrnoException).code === 'ENOENT' };
  }
  if (names.length === 0) return { ok: false, reason: 'none found', missing: true };
  if (names.length > 1) {
    return { ok: false, reason: `ambiguous: ${names.join(', ')} (name one with container.firmware_path)`, missing: false };
  }
  return resolveFirmwareFile(root, '/' + names[0]);
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await openNoFollow(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A read stream that refuses to follow a symlink swapped in after resolution. */
async function openNoFollow(file: string): Promise<AsyncIterable<unknown>> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  return fh.createReadStream({ autoClose: true });
}

/**
 * Copies the firmware to `<dir>/firmware.elf` (temp + fsync + rename) and returns that path; `dir`
 * is the container's state directory (runtime/state-store.ts containerDir, which validates the id). micad gets this copy because containerd may unmount the rootfs before micad
 * loads the ELF, and a rootfs file could change under us. The copy is hashed while it is written,
 * so `container.firmware_hash` holds for exactly the bytes micad will load.
 */
export async function stageFirmware(found: FoundFirmware, dir: string, maxBytes: number): Promise<string> {
  return stageFile(found, dir, 'firmware.elf', maxBytes);
}

/**
 * Finds the pedestal configuration named by annotation `ped.conf` (Xen: the kernel image) inside
 * the rootfs, with the same confinement as the firmware lookup; any regular file is accepted.
 */
export async function findPedestalConfig(rootfs: string, pathInRootfs: string): Promise<FoundFirmware> {
  const r = await resolveInRoot(rootfs, pathInRootfs);
  const checked = r.ok ? await checkFile(r.hostPath, r.rootfsPath, false) : r;
  if (!checked.ok) {
    const message = `annotation org.openeuler.micrun.ped.conf=${pathInRootfs} in rootfs ${rootfs}: ${checked.reason}`;
    throw checked.missing ? notFound(message) : invalidArgument(message);
  }
  return { hostPath: checked.hostPath, rootfsPath: checked.rootfsPath, source: 'annotation', size: checked.size };
}

/** Stages the pedestal configuration to `<dir>/pedestal.conf` (see stageFirmware). */
export async function stagePedestalConfig(found: FoundFirmware, dir: string, maxBytes: number): Promise<string> {
  return stageFile(found, dir, 'pedestal.conf', maxBytes);
}

/**
 * The state dir is usually a tmpfs under /run (RAM): an image's multi-GiB "firmware" must fail
 * with a message naming the limit, not fill the host's memory. Checked before copying and again
 * while copying (the file may grow in between).
 */
function tooLarge(found: FoundFirmware, size: number, maxBytes: number): CodedError {
  return new CodedError(
    Code.ResourceExhausted,
    `${found.rootfsPath} (${size} bytes or more) is larger than the ${maxBytes / (1024 * 1024)} MiB micrun stages into its ` +
      'state dir; raise [runtime] max_firmware_mib in the micrun config if the firmware really is that large',
  );
}

async function stageFile(found: FoundFirmware, dir: string, name: string, maxBytes: number): Promise<string> {
  if (found.size > maxBytes) throw tooLarge(found, found.size, maxBytes);
  const target = path.join(dir, name);
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const actual = await copyHashing(found.hostPath, tmp, maxBytes, (size) => tooLarge(found, size, maxBytes));
    if (found.expectedSha256 && actual !== found.expectedSha256) {
      throw invalidArgument(`firmware ${found.rootfsPath} changed while staging: sha256 ${actual}, expected ${found.expectedSha256}`);
    }
    await rename(tmp, target);
    await syncDir(dir);
    return target;
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    // ENOSPC on the state dir's tmpfs is ResourceExhausted, EACCES PermissionDenied, …
    throw fsError(`stage ${found.hostPath} into ${dir}`, err);
  }
}

/** Copies `from` to a new file `to` (fsynced) and returns the sha256 of the bytes written. */
async function copyHashing(from: string, to: string, maxBytes: number, tooLarge: (size: number) => Error): Promise<string> {
  const out = await open(to, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of await openNoFollow(from)) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw tooLarge(size);
      hash.update(chunk as Buffer);
      await out.write(chunk as Buffer);
    }
    await out.sync();
  } finally {
    await out.close();
  }
  return hash.digest('hex');
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
