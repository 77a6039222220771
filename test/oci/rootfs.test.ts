// Real mounts (the tests run as root): bind and overlay onto a temp rootfs, then unmount.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { isMountPoint, mountArgs, mountRootfs, unmountRootfs } from '../../src/oci';

const base = realpathSync(mkdtempSync(path.join(tmpdir(), 'micrun-rootfs-')));
afterAll(async () => {
  for (const d of ['bind-root', 'ovl-root', 'busy-root', 'stack-root']) await unmountRootfs(path.join(base, d)).catch(() => {});
  rmSync(base, { recursive: true, force: true });
});

const layer = (name: string, files: Record<string, string>) => {
  const dir = path.join(base, name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
};

describe('mountArgs', () => {
  test('bind mounts pass containerd options through and imply rbind', () => {
    expect(mountArgs({ type: 'bind', source: '/s', options: ['ro'] }, '/t')).toEqual(['-o', 'rbind,ro', '--', '/s', '/t']);
    expect(mountArgs({ type: 'none', source: '/s', options: ['rbind', 'rw'] }, '/t')).toEqual(['-o', 'rbind,rw', '--', '/s', '/t']);
  });
  test('overlay gets its type and options', () => {
    expect(mountArgs({ type: 'overlay', source: 'overlay', options: ['lowerdir=/l', 'upperdir=/u', 'workdir=/w'] }, '/t')).toEqual([
      '-t', 'overlay', '-o', 'lowerdir=/l,upperdir=/u,workdir=/w', '--', 'overlay', '/t',
    ]);
  });
});

describe('mountRootfs / unmountRootfs (real mounts)', () => {
  test('bind: the snapshot is visible at the rootfs, unmount is idempotent', async () => {
    const src = layer('bind-src', { 'firmware.elf': 'bind-bytes' });
    const root = path.join(base, 'bind-root');
    const t0 = performance.now();
    await mountRootfs([{ type: 'bind', source: src, options: ['rbind', 'ro'] }], root);
    const mountMs = performance.now() - t0;
    expect(await isMountPoint(root)).toBe(true);
    expect(readFileSync(path.join(root, 'firmware.elf'), 'utf8')).toBe('bind-bytes');
    expect(() => writeFileSync(path.join(root, 'new'), 'x')).toThrow(/EROFS|read-only/i);
    const t1 = performance.now();
    await unmountRootfs(root);
    const umountMs = performance.now() - t1;
    expect(await isMountPoint(root)).toBe(false);
    expect(existsSync(path.join(root, 'firmware.elf'))).toBe(false);
    await unmountRootfs(root); // not mounted → fine
    await unmountRootfs(path.join(base, 'never-existed')); // missing dir → fine
    console.log(`mount (bind) ${mountMs.toFixed(1)} ms, umount ${umountMs.toFixed(1)} ms`);
  });

  test('overlay: lower + upper layers as containerd passes them', async () => {
    const lower = layer('lower', { 'firmware.elf': 'lower-bytes', 'a.txt': 'a' });
    const upper = layer('upper', { 'b.txt': 'b' });
    const work = path.join(base, 'work');
    mkdirSync(work);
    const root = path.join(base, 'ovl-root');
    await mountRootfs([{ type: 'overlay', source: 'overlay', options: [`workdir=${work}`, `upperdir=${upper}`, `lowerdir=${lower}`] }], root);
    expect(await isMountPoint(root)).toBe(true);
    expect(readFileSync(path.join(root, 'firmware.elf'), 'utf8')).toBe('lower-bytes');
    expect(readFileSync(path.join(root, 'b.txt'), 'utf8')).toBe('b');
    writeFileSync(path.join(root, 'c.txt'), 'written');
    expect(readFileSync(path.join(upper, 'c.txt'), 'utf8')).toBe('written');
    await unmountRootfs(root);
    expect(await isMountPoint(root)).toBe(false);
  });

  test('a busy mount is detached lazily so delete can finish', async () => {
    const src = layer('busy-src', { 'f': 'x' });
    const root = path.join(base, 'busy-root');
    await mountRootfs([{ type: 'bind', source: src, options: ['rbind'] }], root);
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync(path.join(root, 'f'), 'r'); // keeps the mount busy
    try {
      await unmountRootfs(root);
      expect(await isMountPoint(root)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });

  test('stacked mounts are all removed', async () => {
    const a = layer('stack-a', { 'f': 'a' });
    const b = layer('stack-b', { 'f': 'b' });
    const root = path.join(base, 'stack-root');
    await mountRootfs([{ type: 'bind', source: a, options: [] }], root);
    await mountRootfs([{ type: 'bind', source: b, options: [] }], root);
    expect(readFileSync(path.join(root, 'f'), 'utf8')).toBe('b');
    await unmountRootfs(root);
    expect(await isMountPoint(root)).toBe(false);
  });

  test('a failing mount reports mount\'s error and leaves nothing mounted', async () => {
    const good = layer('fail-src', { 'f': 'x' });
    const root = path.join(base, 'fail-root');
    const err = await mountRootfs(
      [
        { type: 'bind', source: good, options: [] },
        { type: 'bind', source: path.join(base, 'no-such-dir'), target: '/sub', options: [] },
      ],
      root,
    ).catch((e) => e);
    expect(err).toMatchObject({ code: Code.Internal });
    expect(String(err.message)).toContain('no-such-dir');
    expect(await isMountPoint(root)).toBe(false);
  });

  test('regression: a symlink in the image cannot redirect a mount target onto the host', async () => {
    // The first mount brings an image whose /mnt is an absolute symlink to /etc and whose /up
    // climbs out with "..": resolved inside the rootfs, the second mount lands in the image's own
    // /etc, never the host's.
    const image = layer('symlink-image', { 'etc/keep': 'image etc' });
    const { symlinkSync } = await import('node:fs');
    symlinkSync('/etc', path.join(image, 'mnt'));
    symlinkSync('../../../../../../..', path.join(image, 'up'));
    const extra = layer('symlink-extra', { 'marker': 'mounted' });
    const root = path.join(base, 'symlink-root');
    const hostProbe = `/etc/micrun-rootfs-test-${process.pid}`;
    try {
      await mountRootfs(
        [
          { type: 'bind', source: image, options: [] },
          { type: 'bind', source: extra, target: `/mnt/micrun-rootfs-test-${process.pid}`, options: [] },
        ],
        root,
      );
      expect(readFileSync(path.join(root, 'etc', `micrun-rootfs-test-${process.pid}`, 'marker'), 'utf8')).toBe('mounted');
      expect(existsSync(hostProbe)).toBe(false);
      await unmountRootfs(path.join(root, 'etc', `micrun-rootfs-test-${process.pid}`));
      await unmountRootfs(root);
      const escaping = await mountRootfs(
        [
          { type: 'bind', source: image, options: [] },
          { type: 'bind', source: extra, target: '/up/tmp', options: [] },
        ],
        root,
      ).catch((e) => e);
      expect(escaping).toMatchObject({ code: Code.InvalidArgument });
      expect(String(escaping.message)).toContain('escapes the rootfs');
      expect(await isMountPoint(root)).toBe(false);
    } finally {
      await unmountRootfs(path.join(root, 'etc', `micrun-rootfs-test-${process.pid}`)).catch(() => {});
      await unmountRootfs(root).catch(() => {});
      await unmountRootfs(hostProbe).catch(() => {}); // only if the defect is back: never leave a host mount
      rmSync(hostProbe, { recursive: true, force: true });
    }
  });

  test('a ".." in a mount target is InvalidArgument', async () => {
    const err = await mountRootfs(
      [
        { type: 'bind', source: layer('dotdot-src', { f: 'x' }), options: [] },
        { type: 'bind', source: base, target: '/a/../../b', options: [] },
      ],
      path.join(base, 'dotdot-root'),
    ).catch((e) => e);
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect(await isMountPoint(path.join(base, 'dotdot-root'))).toBe(false);
  });

  test('no mounts: nothing is mounted (the bundle root.path is used)', async () => {
    const root = path.join(base, 'none-root');
    await mountRootfs([], root);
    expect(existsSync(root)).toBe(false);
  });
});
