import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { loadSpec, parseLinuxResources, parseSpec } from '../../src/oci';

const dir = mkdtempSync(path.join(tmpdir(), 'micrun-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const full = {
  ociVersion: '1.0.2',
  process: { terminal: true, args: ['/firmware.elf'], env: ['MICRUN_OS=zephyr'], cwd: '/' },
  root: { path: 'rootfs', readonly: true },
  annotations: { 'org.openeuler.micrun.container.os': 'zephyr' },
  mounts: [{ destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid'] }],
  linux: { resources: { cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1' }, memory: { limit: 67108864 } }, namespaces: [] },
  hooks: { prestart: [] },
};

describe('loadSpec', () => {
  test('reads the fields micrun uses from <bundle>/config.json', async () => {
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(full));
    const spec = await loadSpec(dir);
    expect(spec.process).toEqual({ terminal: true, args: ['/firmware.elf'], env: ['MICRUN_OS=zephyr'], cwd: '/' });
    expect(spec.root).toEqual({ path: 'rootfs', readonly: true });
    expect(spec.annotations['org.openeuler.micrun.container.os']).toBe('zephyr');
    expect(spec.mounts[0]?.type).toBe('proc');
    expect(spec.linux?.resources).toEqual({ cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1' }, memory: { limit: 67108864 } });
  });

  test('a missing config.json is NotFound naming the file', async () => {
    const empty = mkdtempSync(path.join(dir, 'empty-'));
    await expect(loadSpec(empty)).rejects.toMatchObject({ code: Code.NotFound, message: expect.stringContaining(path.join(empty, 'config.json')) });
  });

  test('bad JSON is InvalidArgument naming the file', () => {
    expect(() => parseSpec('{"process": ', '/b/config.json')).toThrow(expect.objectContaining({ code: Code.InvalidArgument, message: expect.stringMatching(/\/b\/config\.json is not valid JSON/) }));
  });

  test.each([
    [{ process: { args: '/firmware.elf' } }, 'process.args must be an array'],
    [{ process: { args: ['/a', 3] } }, 'process.args[1] must be a string'],
    [{ process: { args: [], terminal: 'yes' } }, 'process.terminal must be a boolean'],
    [{ annotations: { a: 1 } }, 'annotations["a"] must be a string'],
    [{ root: { path: '' } }, 'root.path must be a non-empty string'],
    [{ linux: { resources: { memory: { limit: '64M' } } } }, 'linux.resources.memory.limit must be an integer'],
    [{ linux: { resources: { cpu: { quota: 1.5 } } } }, 'linux.resources.cpu.quota must be an integer'],
    [{ mounts: [{ type: 'bind', options: 'ro' }] }, 'mounts[0].options must be an array'],
    [[], '(top level) must be an object'],
  ])('wrong shape %j names the field', (raw, message) => {
    let err: unknown;
    try {
      parseSpec(JSON.stringify(raw), '/b/config.json');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect((err as Error).message).toContain('/b/config.json');
    expect((err as Error).message).toContain(message);
  });

  test.each([
    [{ destination: '/data', type: 'bind', source: '/srv', options: ['rbind'], uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }, 'uidMappings'],
    [{ destination: '/data', type: 'bind', source: '/srv', options: ['rbind'], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }, 'gidMappings'],
    [{ destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'idmap'] }, 'option "idmap"'],
    [{ destination: '/data', type: 'bind', source: '/srv', options: ['ridmap'] }, 'option "ridmap"'],
  ])('an idmap mount (%j) is refused at Create with InvalidArgument naming idmap', (mount, how) => {
    let err: unknown;
    try {
      parseSpec(JSON.stringify({ ociVersion: '1.2.0', mounts: [{ destination: '/proc', type: 'proc', source: 'proc', options: [] }, mount] }), '/b/config.json');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect((err as Error).message).toContain('mounts[1] (/data) is an idmap mount');
    expect((err as Error).message).toContain(how);
    expect((err as Error).message).toContain('micrun does not support idmap mounts');
  });

  test('mounts without mappings (null mappings too) are accepted', () => {
    const spec = parseSpec(JSON.stringify({ mounts: [{ destination: '/d', type: 'bind', source: '/s', options: ['rbind'], uidMappings: null }] }), 'x');
    expect(spec.mounts).toHaveLength(1);
  });

  test('an Update payload is validated the same way', () => {
    expect(parseLinuxResources({ cpu: { shares: 512 } })).toEqual({ cpu: { shares: 512 } });
    expect(() => parseLinuxResources({ cpu: { cpus: 3 } })).toThrow(/linux\.resources\.cpu\.cpus must be a string/);
  });
});
