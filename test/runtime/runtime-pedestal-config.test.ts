// Regression: annotation org.openeuler.micrun.ped.conf names a file inside the image, but micad
// reads host paths. Create must hand micad a staged host copy (not the image path), and that copy
// must go with the container on delete and on a failed Create.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { Runtime } from '../../src/runtime/runtime';
import { newTestRuntime } from './test-runtime';
import { FakeMica } from './fake-mica';
import { Code, unavailable } from '../../src/errors';

const PED_CONF = 'org.openeuler.micrun.ped.conf';
const KERNEL = Buffer.from('xen kernel image bytes \x00\x01\x02');

let dir: string;
let stateDir: string;
let mica: FakeMica;
let runtime: Runtime;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-pedcfg-'));
  stateDir = path.join(dir, 'state');
  mica = new FakeMica();
  runtime = newTestRuntime({ mica, stateDir, pid: 1 });
});
afterEach(() => {
  runtime.close();
  rmSync(dir, { recursive: true, force: true });
});

function bundle(id: string, annotations: Record<string, string>): string {
  const b = path.join(dir, 'bundles', id);
  mkdirSync(path.join(b, 'rootfs', 'boot'), { recursive: true });
  writeFileSync(path.join(b, 'rootfs', 'firmware.elf'), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(60)]));
  writeFileSync(path.join(b, 'rootfs', 'boot', 'xen.cfg'), KERNEL);
  writeFileSync(
    path.join(b, 'config.json'),
    JSON.stringify({ ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { args: ['/firmware.elf'], env: [], cwd: '/' }, annotations }),
  );
  return b;
}

const stdio = { stdin: '', stdout: '', stderr: '', terminal: false };

test('micad gets a staged host copy of ped.conf holding the image file bytes, removed on delete', async () => {
  const b = bundle('c1', { [PED_CONF]: '/boot/xen.cfg' });
  await runtime.create({ id: 'c1', bundle: b, rootfs: [], stdio });
  const sent = mica.instances.get('c1')!.params.pedestalConfig!;
  expect(sent).toEqual(expect.any(String));
  expect(sent).not.toBe('/boot/xen.cfg');
  expect(path.isAbsolute(sent)).toBe(true);
  expect(sent.startsWith(stateDir + path.sep)).toBe(true);
  expect(readFileSync(sent)).toEqual(KERNEL);

  await runtime.delete('c1');
  expect(existsSync(sent)).toBe(false);
});

test('without ped.conf micad gets no pedestal configuration', async () => {
  await runtime.create({ id: 'c2', bundle: bundle('c2', {}), rootfs: [], stdio });
  expect(mica.instances.get('c2')!.params.pedestalConfig).toBeUndefined();
});

test('a ped.conf missing from the image fails Create naming the annotation, and leaves nothing', async () => {
  const b = bundle('c3', { [PED_CONF]: '/boot/nope.cfg' });
  await expect(runtime.create({ id: 'c3', bundle: b, rootfs: [], stdio })).rejects.toThrow(/ped\.conf=\/boot\/nope\.cfg/);
  expect(mica.instances.size).toBe(0);
  expect(existsSync(path.join(stateDir, 'containers', 'c3'))).toBe(false);
});

test('a ped.conf escaping the rootfs is refused', async () => {
  writeFileSync(path.join(dir, 'secret'), 'host file');
  const b = bundle('c4', { [PED_CONF]: '../../../secret' });
  await expect(runtime.create({ id: 'c4', bundle: b, rootfs: [], stdio })).rejects.toThrow(/ped\.conf/);
  expect(mica.instances.size).toBe(0);
});

test('a micad create failure removes the staged ped.conf', async () => {
  mica.failCreate = unavailable('micad said no');
  const b = bundle('c5', { [PED_CONF]: '/boot/xen.cfg' });
  await expect(runtime.create({ id: 'c5', bundle: b, rootfs: [], stdio })).rejects.toMatchObject({ code: Code.Unavailable, message: expect.stringMatching(/micad said no/) });
  expect(existsSync(path.join(stateDir, 'containers', 'c5'))).toBe(false);
});
