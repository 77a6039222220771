// The fault harness's teardown of containerd's temp mounts (harness/leftovers.ts): a ctr or
// containerd SIGKILLed inside Go's mount.WithTempMount leaves `<tmp>/containerd-mount<N>` mounted.
// Only those naming a path of the test's own containerd dir are found and unmounted — the machine
// is shared, and another test's temp mount may be in use right now. Real mounts (bind), as root.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { containerdTempMounts, mountsUnder, removeContainerdTempMounts } from './harness/leftovers';

const ours = mkdtempSync(path.join(tmpdir(), 'micrun-ctd-tempmount-'));
const theirs = mkdtempSync(path.join(tmpdir(), 'micrun-ctd-tempmount-other-'));
const mountPoints: string[] = [];

/** Bind-mounts `<dir>/root/snapshots/1/fs` at a fresh `<tmp>/containerd-mount<N>`, as WithTempMount does. */
function tempMountOf(dir: string): string {
  const snapshot = path.join(dir, 'root', 'snapshots', '1', 'fs');
  mkdirSync(snapshot, { recursive: true });
  const mountPoint = mkdtempSync(path.join(tmpdir(), 'containerd-mount'));
  execFileSync('mount', ['--bind', snapshot, mountPoint]);
  mountPoints.push(mountPoint);
  return mountPoint;
}

afterAll(() => {
  for (const m of mountPoints) {
    if (mountsUnder(m).length > 0) execFileSync('umount', ['-l', m]);
    rmSync(m, { recursive: true, force: true });
  }
  rmSync(ours, { recursive: true, force: true });
  rmSync(theirs, { recursive: true, force: true });
});

test("a temp mount of the test's containerd is found and removed; another containerd's is left alone", async () => {
  const mine = tempMountOf(ours);
  const other = tempMountOf(theirs);
  expect(containerdTempMounts(ours)).toEqual([mine]);
  expect(await removeContainerdTempMounts(ours)).toEqual([mine]);
  expect(mountsUnder(mine)).toEqual([]);
  expect(existsSync(mine)).toBe(false);
  expect(containerdTempMounts(ours)).toEqual([]);
  expect(mountsUnder(other)).toEqual([other]); // untouched
});
