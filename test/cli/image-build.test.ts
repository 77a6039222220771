import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { buildImage, hostPlatform, isValidReference, main, parsePlatform } from '../../src/cli';

const dir = mkdtempSync(path.join(tmpdir(), 'micrun-img-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A minimal 32-bit little-endian ARM ELF header (e_machine 0x28 at offset 18).
const fakeElf = () => {
  const b = Buffer.alloc(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  b.writeUInt16LE(2, 16);
  b.writeUInt16LE(0x28, 18);
  return Buffer.concat([b, Buffer.from('firmware body')]);
};
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function extract(archive: Buffer): string {
  const out = mkdtempSync(path.join(dir, 'x-'));
  const file = path.join(out, 'image.tar');
  writeFileSync(file, archive);
  execFileSync('tar', ['-xf', file, '-C', out]);
  return out;
}
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));
const blob = (root: string, digest: string) => readFileSync(path.join(root, 'blobs/sha256', digest.slice(7)));

describe('buildImage', () => {
  const firmware = fakeElf();
  const image = buildImage({
    firmware,
    name: 'docker.io/library/zephyr-echo:1.0',
    env: ['MICRUN_OS=zephyr', 'MICRUN_MACHINE=mps2-an385'],
    annotations: { 'org.openeuler.micrun.container.os': 'zephyr' },
    platform: { os: 'linux', architecture: 'arm64' },
    created: 1_700_000_000,
  });
  const root = extract(image.archive);

  test('is an OCI image layout whose every digest matches its content', () => {
    expect(readJson(path.join(root, 'oci-layout'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = readJson(path.join(root, 'index.json'));
    expect(index.schemaVersion).toBe(2);
    expect(index.manifests).toHaveLength(1);
    const desc = index.manifests[0];
    expect(desc.annotations).toEqual({ 'io.containerd.image.name': 'docker.io/library/zephyr-echo:1.0', 'org.opencontainers.image.ref.name': '1.0' });
    expect(desc.platform).toEqual({ os: 'linux', architecture: 'arm64' });
    const manifestBytes = blob(root, desc.digest);
    expect(sha(manifestBytes)).toBe(desc.digest);
    expect(manifestBytes.length).toBe(desc.size);
    const manifest = JSON.parse(manifestBytes.toString());
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.annotations).toEqual({ 'org.openeuler.micrun.container.os': 'zephyr' });
    for (const d of [manifest.config, ...manifest.layers]) {
      const b = blob(root, d.digest);
      expect(sha(b)).toBe(d.digest);
      expect(b.length).toBe(d.size);
    }
    // Nothing else in blobs/: no dangling or missing content.
    expect(readdirSync(path.join(root, 'blobs/sha256')).sort()).toEqual(
      [desc.digest, manifest.config.digest, manifest.layers[0].digest].map((d: string) => d.slice(7)).sort(),
    );
  });

  test('config: platform, Entrypoint, Env and diff_ids of the uncompressed layer', () => {
    const manifest = JSON.parse(blob(root, image.manifest.digest).toString());
    const config = JSON.parse(blob(root, manifest.config.digest).toString());
    expect(config.architecture).toBe('arm64');
    expect(config.os).toBe('linux');
    expect(config.created).toBe('2023-11-14T22:13:20.000Z');
    expect(config.config).toEqual({ Entrypoint: ['/firmware.elf'], Env: ['MICRUN_OS=zephyr', 'MICRUN_MACHINE=mps2-an385'] });
    const layerTar = gunzipSync(blob(root, manifest.layers[0].digest));
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: [sha(layerTar)] });
    expect(image.diffId).toBe(sha(layerTar));
  });

  test('the layer holds exactly /firmware.elf, mode 0755, with the input bytes', () => {
    const manifest = JSON.parse(blob(root, image.manifest.digest).toString());
    const layerDir = mkdtempSync(path.join(dir, 'layer-'));
    writeFileSync(path.join(layerDir, 'layer.tar.gz'), blob(root, manifest.layers[0].digest));
    expect(execFileSync('tar', ['-tvzf', path.join(layerDir, 'layer.tar.gz')], { encoding: 'utf8' })).toMatch(/^-rwxr-xr-x root\/root\s+\d+ .* firmware\.elf\n$/);
    mkdirSync(path.join(layerDir, 'fs'));
    execFileSync('tar', ['-xzf', path.join(layerDir, 'layer.tar.gz'), '-C', path.join(layerDir, 'fs')]);
    expect(readFileSync(path.join(layerDir, 'fs/firmware.elf')).equals(firmware)).toBe(true);
  });

  test('the same firmware gives the same layer digest whatever the build time', () => {
    const again = buildImage({ firmware, name: 'x:1', env: [], annotations: {}, platform: hostPlatform(), created: 42 });
    expect(again.layer.digest).toBe(image.layer.digest);
    expect(again.diffId).toBe(image.diffId);
  });
});

test('references, platforms', () => {
  expect(isValidReference('docker.io/library/zephyr-echo:1.0')).toBe(true);
  expect(isValidReference('localhost:5000/mica-uniproton-app:xen-0.1')).toBe(true);
  expect(isValidReference('echo')).toBe(true);
  expect(isValidReference('Echo:1')).toBe(false);
  expect(isValidReference('a b')).toBe(false);
  expect(isValidReference('')).toBe(false);
  expect(parsePlatform('linux/arm/v7')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
  expect(parsePlatform('arm64')).toBeUndefined();
  expect(['amd64', 'arm64']).toContain(hostPlatform().architecture);
});

describe('micrun CLI', () => {
  const run = async (...argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await main(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env: { PATH: '/usr/bin:/bin' } });
    return { code, stdout, stderr };
  };
  const fw = path.join(dir, 'fw.elf');
  writeFileSync(fw, fakeElf());

  test('image build writes the archive and reports progress on stderr', async () => {
    const out = path.join(dir, 'out.tar');
    const r = await run('image', 'build', '--firmware', fw, '--name', 'micrun/echo:1', '--env', 'MICRUN_OS=zephyr', '--annotation', 'a=b', '--platform', 'linux/arm64', '-o', out);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toContain('ELF ARM');
    expect(r.stderr).toContain(`wrote ${out}`);
    const root = extract(readFileSync(out));
    expect(readJson(path.join(root, 'index.json')).manifests[0].platform).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  test('a non-ELF firmware is refused with a clear error, exit 1, nothing written', async () => {
    const script = path.join(dir, 'fw.sh');
    writeFileSync(script, '#!/bin/sh\necho not firmware\n');
    const out = path.join(dir, 'never.tar');
    const r = await run('image', 'build', '--firmware', script, '--name', 'x:1', '-o', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${script} is not an ELF file`);
    expect(existsSync(out)).toBe(false);
  });

  test.each([
    [['image', 'build', '--name', 'x:1', '-o', 'o.tar'], '--firmware is required'],
    [['image', 'build', '--firmware', 'f', '--name', 'x:1', '-o', 'o.tar', '--bogus'], 'unknown flag --bogus'],
    [['image', 'build', '--firmware', 'f', '--name', 'Bad Name', '-o', 'o.tar'], 'is not an image reference'],
    [['image', 'build', '--firmware', 'f', '--name', 'x', '-o', 'o.tar', '--env', 'NOEQUALS'], 'must be KEY=VALUE'],
    [['image', 'build', '--firmware', 'f', '--name', 'x', '-o', 'o.tar', '--platform', 'arm64'], 'is not OS/ARCH'],
    [['image', 'build', '--firmware'], '--firmware needs a value'],
    [['image', 'push'], 'unknown image command "push"'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['doctor', 'extra'], 'doctor takes no arguments'],
  ])('usage error %j → exit 2', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('usage: micrun');
  });

  test('version and --help', async () => {
    expect(await run('version')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^micrun \d+\.\d+\.\d+\n$/) });
    expect(await run('--help')).toMatchObject({ code: 0, stdout: expect.stringContaining('image build') });
    expect(await run('image', 'build', '--help')).toMatchObject({ code: 0, stdout: expect.stringContaining('--firmware FILE') });
  });
});
