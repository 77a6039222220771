import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { findFirmware, findPedestalConfig, stageFirmware, stagePedestalConfig } from '../../src/oci';

const base = mkdtempSync(path.join(tmpdir(), 'micrun-fw-'));
/** Staging limit used where the limit is not what the test is about. */
const LIMIT = 64 * 1024 * 1024;
afterAll(() => rmSync(base, { recursive: true, force: true }));

const elf = (tag: string) => Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0]), Buffer.from(tag)]);
let rootfs: string;
let n = 0;
beforeEach(() => {
  rootfs = path.join(base, `rootfs-${n++}`);
  mkdirSync(rootfs);
});
const put = (rel: string, data: Buffer | string) => {
  const p = path.join(rootfs, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, data);
};

async function failure(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: Code; message: string };
  }
  throw new Error('expected the lookup to fail');
}

describe('findFirmware lookup order', () => {
  test('1. the annotation wins over everything', async () => {
    put('firmware.elf', elf('default'));
    put('opt/app.elf', elf('annotated'));
    const fw = await findFirmware({ rootfs, firmwarePath: '/opt/app.elf', args: ['/firmware.elf'] });
    expect(fw).toMatchObject({ rootfsPath: '/opt/app.elf', source: 'annotation', hostPath: path.join(rootfs, 'opt/app.elf') });
  });

  test('a wrong annotation fails instead of falling back', async () => {
    put('firmware.elf', elf('default'));
    const err = await failure(findFirmware({ rootfs, firmwarePath: '/missing.elf' }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.message).toContain('container.firmware_path=/missing.elf');
    expect(err.message).toContain('/missing.elf does not exist');
  });

  test('2. process.args[0] when it names a file in the rootfs (remoteproc-runtime images)', async () => {
    put('firmware.elf', elf('default'));
    put('boot/zephyr.elf', elf('entry'));
    const fw = await findFirmware({ rootfs, args: ['/boot/zephyr.elf', '--flag'] });
    expect(fw).toMatchObject({ rootfsPath: '/boot/zephyr.elf', source: 'entrypoint' });
  });

  test('relative args[0] resolves against process.cwd', async () => {
    put('boot/zephyr.elf', elf('entry'));
    expect(await findFirmware({ rootfs, args: ['zephyr.elf'], cwd: '/boot' })).toMatchObject({ rootfsPath: '/boot/zephyr.elf' });
  });

  test('3. /firmware.elf when args[0] is a placeholder that does not exist', async () => {
    put('firmware.elf', elf('default'));
    expect(await findFirmware({ rootfs, args: ['/micrun-placeholder'] })).toMatchObject({ rootfsPath: '/firmware.elf', source: 'default', size: 15 });
  });

  test('4. the single *.elf at the rootfs top', async () => {
    put('app.elf', elf('scan'));
    put('sub/other.elf', elf('not top level'));
    expect(await findFirmware({ rootfs })).toMatchObject({ rootfsPath: '/app.elf', source: 'scan' });
  });

  test('several *.elf at the top are ambiguous: InvalidArgument listing them', async () => {
    put('a.elf', elf('a'));
    put('b.elf', elf('b'));
    const err = await failure(findFirmware({ rootfs }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toMatch(/ambiguous: a\.elf, b\.elf/);
  });

  test('nothing at all: NotFound listing every candidate tried and why', async () => {
    put('README', 'hello');
    const err = await failure(findFirmware({ rootfs, args: ['/bin/app'] }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.message).toContain('process.args[0]=/bin/app: /bin does not exist');
    expect(err.message).toContain('/firmware.elf: /firmware.elf does not exist');
    expect(err.message).toContain('*.elf at the rootfs top: none found');
  });
});

describe('findFirmware refuses what is not firmware', () => {
  test('a non-ELF /firmware.elf is InvalidArgument', async () => {
    put('firmware.elf', '#!/bin/sh\necho hi\n');
    const err = await failure(findFirmware({ rootfs }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain('/firmware.elf is not an ELF file');
  });

  test('a directory is not a regular file', async () => {
    mkdirSync(path.join(rootfs, 'firmware.elf'));
    const err = await failure(findFirmware({ rootfs, firmwarePath: '/firmware.elf' }));
    expect(err.message).toContain('/firmware.elf is not a regular file');
  });

  test('an args[0] that is a script falls through to /firmware.elf', async () => {
    put('run.sh', '#!/bin/sh');
    put('firmware.elf', elf('x'));
    expect(await findFirmware({ rootfs, args: ['/run.sh'] })).toMatchObject({ source: 'default' });
  });
});

describe('findFirmware never leaves the rootfs', () => {
  const outside = () => {
    const secret = path.join(base, `secret-${n}.elf`);
    writeFileSync(secret, elf('host file'));
    return secret;
  };

  test('".." in the annotation is refused', async () => {
    outside();
    const err = await failure(findFirmware({ rootfs, firmwarePath: `../secret-${n - 1}.elf` }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain('escapes the rootfs');
  });

  test('".." inside the rootfs stays allowed', async () => {
    put('a/b/fw.elf', elf('x'));
    expect(await findFirmware({ rootfs, firmwarePath: '/a/b/../b/./fw.elf' })).toMatchObject({ rootfsPath: '/a/b/fw.elf' });
  });

  test('a relative symlink climbing out is refused', async () => {
    const secret = outside();
    symlinkSync(path.relative(rootfs, secret), path.join(rootfs, 'firmware.elf'));
    const err = await failure(findFirmware({ rootfs }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain('escapes the rootfs');
  });

  test('an absolute symlink target is read inside the rootfs, not on the host', async () => {
    const secret = outside();
    // On the host `secret` exists; inside the rootfs it does not, so the link must not resolve.
    symlinkSync(secret, path.join(rootfs, 'firmware.elf'));
    const err = await failure(findFirmware({ rootfs }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.message).toMatch(/\/tmp[^ ]* does not exist/);
    // ...and when the target does exist inside the rootfs, that is the file used.
    put(secret, elf('inside copy'));
    const fw = await findFirmware({ rootfs });
    expect(fw.hostPath).toBe(path.join(rootfs, secret));
    expect(fw.rootfsPath).toBe(secret);
  });

  test('a symlinked directory with an absolute target stays inside', async () => {
    put('real/fw.elf', elf('x'));
    symlinkSync('/real', path.join(rootfs, 'lib'));
    expect(await findFirmware({ rootfs, firmwarePath: '/lib/fw.elf' })).toMatchObject({ rootfsPath: '/real/fw.elf' });
  });

  test('symlink loops end with an error', async () => {
    symlinkSync('b', path.join(rootfs, 'a'));
    symlinkSync('a', path.join(rootfs, 'b'));
    const err = await failure(findFirmware({ rootfs, firmwarePath: '/a' }));
    expect(err.message).toContain('too many symlinks');
  });
});

describe('firmware hash and staging', () => {
  test('a matching sha256 passes, a different one is InvalidArgument naming the annotation', async () => {
    const data = elf('hashed');
    put('firmware.elf', data);
    const sha = createHash('sha256').update(data).digest('hex');
    expect(await findFirmware({ rootfs, sha256: sha })).toMatchObject({ expectedSha256: sha });
    const err = await failure(findFirmware({ rootfs, sha256: 'f'.repeat(64) }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain('container.firmware_hash');
    expect(err.message).toContain(sha);
  });

  test('stageFirmware copies the bytes to <dir>/firmware.elf', async () => {
    const data = elf('stage me'.repeat(10_000));
    put('firmware.elf', data);
    chmodSync(path.join(rootfs, 'firmware.elf'), 0o755);
    const dir = path.join(base, `state-${n}`, 'c1');
    const fw = await findFirmware({ rootfs });
    const staged = await stageFirmware(fw, dir, LIMIT);
    expect(staged).toBe(path.join(dir, 'firmware.elf'));
    expect(readFileSync(staged).equals(data)).toBe(true);
    expect(statSync(staged).isFile()).toBe(true);
    // The copy outlives the rootfs (that is the point of staging).
    rmSync(rootfs, { recursive: true });
    expect(readFileSync(staged).equals(data)).toBe(true);
    // Staging twice replaces the file atomically; no temp files are left.
    mkdirSync(rootfs);
    put('firmware.elf', elf('second'));
    await stageFirmware(await findFirmware({ rootfs }), dir, LIMIT);
    expect(readFileSync(staged).toString()).toContain('second');
    expect(readdirSync(path.dirname(staged))).toEqual(['firmware.elf']);
  });

  test('staging re-checks the hash on the copied bytes', async () => {
    put('firmware.elf', elf('original'));
    const fw = await findFirmware({ rootfs });
    const dir = path.join(base, `state-${n}`, 'c2');
    const err = await failure(stageFirmware({ ...fw, expectedSha256: '0'.repeat(64) }, dir, LIMIT));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('staging size limit (issue 11 item 7: the state dir is a tmpfs in RAM)', () => {
  test('a firmware above the limit is ResourceExhausted naming the config key, and nothing is written', async () => {
    put('firmware.elf', elf('x'.repeat(4096)));
    const dir = path.join(base, `state-${n}`, 'big');
    const err = await failure(stageFirmware(await findFirmware({ rootfs }), dir, 1024));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.message).toContain('/firmware.elf');
    expect(err.message).toContain('max_firmware_mib');
    expect(existsSync(dir)).toBe(false);
  });

  test('a file that grows past the limit after the lookup is stopped while copying, temp file removed', async () => {
    put('firmware.elf', elf('small'));
    const found = await findFirmware({ rootfs });
    put('firmware.elf', elf('y'.repeat(256 * 1024))); // grew between lookup and staging
    const dir = path.join(base, `state-${n}`, 'grown');
    const err = await failure(stageFirmware(found, dir, 64 * 1024));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a firmware of exactly the limit is staged', async () => {
    const data = elf('z'.repeat(100));
    put('firmware.elf', data);
    const staged = await stageFirmware(await findFirmware({ rootfs }), path.join(base, `state-${n}`, 'exact'), data.length);
    expect(readFileSync(staged).equals(data)).toBe(true);
  });
});

describe('pedestal configuration (ped.conf)', () => {
  test('found inside the rootfs, staged beside the firmware', async () => {
    put('image.bin', 'xen kernel image');
    const dir = path.join(base, `state-ped-${n}`, 'c1');
    const found = await findPedestalConfig(rootfs, '/image.bin');
    const staged = await stagePedestalConfig(found, dir, LIMIT);
    expect(staged).toBe(path.join(dir, 'pedestal.conf'));
    expect(readFileSync(staged, 'utf8')).toBe('xen kernel image');
  });

  test('missing → NotFound, escaping → InvalidArgument, both naming the annotation', async () => {
    const missing = await failure(findPedestalConfig(rootfs, '/image.bin'));
    expect(missing).toMatchObject({ code: Code.NotFound, message: expect.stringContaining('ped.conf=/image.bin') });
    const escaping = await failure(findPedestalConfig(rootfs, '../../etc/passwd'));
    expect(escaping).toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining('escapes the rootfs') });
  });
});
