// `micrun image build` → `ctr image import` into a private containerd 1.6 → the firmware is in
// the unpacked snapshot, byte for byte, and the image is listed under the name given. The snapshot
// is mounted with our own mountRootfs() from the mount `ctr snapshots mounts` prints, which is the
// same shape of mount containerd hands the shim in Task Create.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { isMountPoint, mountRootfs, unmountRootfs, type RootfsMount } from '../../src/oci';
import { distDir, startContainerd, type Containerd } from './harness/containerd';
import { run } from './harness/processes';

const work = mkdtempSync(path.join(tmpdir(), 'micrun-import-'));
let ctd: Containerd | undefined;
let firmware: Buffer;
const firmwareFile = path.join(work, 'tiny.elf');

beforeAll(async () => {
  // A tiny Cortex-M ELF compiled here, so the test needs no prebuilt fixture.
  const src = path.join(work, 'tiny.c');
  writeFileSync(src, 'void _start(void) { for (;;) { __asm__ volatile ("wfi"); } }\n');
  const cc = await run('arm-none-eabi-gcc', ['-mcpu=cortex-m3', '-mthumb', '-nostdlib', '-O2', '-o', firmwareFile, src]);
  expect(cc.stderr).toBe('');
  expect(cc.code).toBe(0);
  firmware = readFileSync(firmwareFile);
  ctd = await startContainerd();
});

afterAll(async () => {
  await unmountRootfs(path.join(work, 'rootfs')).catch(() => {});
  await ctd?.destroy();
  rmSync(work, { recursive: true, force: true });
});

/** `mount -t overlay overlay /t -o a,b` (as printed by ctr snapshots mounts) → RootfsMount. */
function parseCtrMount(line: string): RootfsMount {
  const words = line.trim().split(/\s+/);
  expect(words[0]).toBe('mount');
  const m: RootfsMount = { type: '', source: '', options: [] };
  const rest: string[] = [];
  for (let i = 1; i < words.length; i++) {
    if (words[i] === '-t') m.type = words[++i]!;
    else if (words[i] === '-o') m.options = words[++i]!.split(',');
    else rest.push(words[i]!);
  }
  m.source = rest[0]!;
  return m;
}

test('micrun image build → ctr image import → /firmware.elf is in the snapshot and the name is listed', async () => {
  const c = ctd!;
  const name = 'docker.io/micrun-test/tiny-firmware:e2e';
  const archive = path.join(work, 'tiny.tar');
  const built = await run(process.execPath, [
    path.join(distDir, 'micrun.js'), 'image', 'build',
    '--firmware', firmwareFile, '--name', name, '--env', 'MICRUN_OS=baremetal', '-o', archive,
  ]);
  expect(built.stderr).toContain('ELF ARM');
  expect(built.code).toBe(0);
  expect(statSync(archive).size).toBeGreaterThan(firmware.length / 4);

  const imported = await c.ctr(['image', 'import', archive]);
  expect(imported.stderr).toBe('');
  expect(imported.code).toBe(0);

  const list = await c.ctr(['image', 'ls', '-q']);
  expect(list.stdout.split('\n')).toContain(name);

  // The chain id of a one-layer image is that layer's diff id (rootfs.diff_ids[0] in the config).
  const configJson = await c.ctr(['content', 'get', await configDigest(c, name)]);
  const diffId: string = JSON.parse(configJson.stdout).rootfs.diff_ids[0];
  expect(JSON.parse(configJson.stdout).config.Entrypoint).toEqual(['/firmware.elf']);
  expect(JSON.parse(configJson.stdout).config.Env).toEqual(['MICRUN_OS=baremetal']);

  const key = 'micrun-e2e-view';
  const prepared = await c.ctr(['snapshots', 'prepare', key, diffId]);
  expect(prepared.stderr).toBe('');
  expect(prepared.code).toBe(0);
  try {
    const rootfs = path.join(work, 'rootfs');
    const mounts = await c.ctr(['snapshots', 'mounts', rootfs, key]);
    expect(mounts.code).toBe(0);
    const mount = parseCtrMount(mounts.stdout);
    expect(['overlay', 'bind']).toContain(mount.type);
    await mountRootfs([mount], rootfs);
    try {
      expect(await isMountPoint(rootfs)).toBe(true);
      expect(readFileSync(path.join(rootfs, 'firmware.elf')).equals(firmware)).toBe(true);
      expect(statSync(path.join(rootfs, 'firmware.elf')).mode & 0o777).toBe(0o755);
    } finally {
      await unmountRootfs(rootfs);
    }
    expect(await isMountPoint(rootfs)).toBe(false);
  } finally {
    const removed = await c.ctr(['snapshots', 'rm', key]);
    expect(removed.code).toBe(0);
  }
});

async function configDigest(c: Containerd, name: string): Promise<string> {
  const index = await c.ctr(['image', 'ls']);
  const lines = index.stdout.split('\n');
  expect(lines.map((l) => l.split(/\s+/)[0]), `${name} in ctr image ls`).toContain(name);
  const line = lines.find((l) => l.startsWith(`${name} `));
  const manifestDigest = line!.split(/\s+/)[2]!;
  const manifest = await c.ctr(['content', 'get', manifestDigest]);
  return JSON.parse(manifest.stdout).config.digest;
}
