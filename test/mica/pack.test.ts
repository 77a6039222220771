// Pins the C packing of struct create_msg (native/libmica.c) byte for byte.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCreateMessage } from '../../src/sim/create-message';
import { loadAddon } from '../../src/mica/addon';
import type { CreateParams } from '../../src/mica/types';
import { CREATE_MSG_LAYOUT, CREATE_MSG_SIZE } from '../../src/mica/wire';

const addon = loadAddon();

const full: Required<CreateParams> = {
  name: 'vm-zephyr',
  firmwarePath: '/run/micrun/containers/vm-zephyr/firmware.elf',
  pedestal: 'xen',
  pedestalConfig: '/run/micrun/containers/vm-zephyr/image.bin',
  debug: true,
  cpus: '1-3',
  vcpus: 2,
  maxVcpus: 8,
  cpuWeight: 256,
  cpuCapacity: 50,
  memoryMiB: 128,
  maxMemoryMiB: 256,
  iomem: '0x1000,2@0x2000',
  network: 'bridge=xenbr0',
};

const field = (name: string) => {
  const f = CREATE_MSG_LAYOUT.find((x) => x.field === name);
  if (!f) throw new Error(`no field ${name}`);
  return f;
};
const str = (buf: Buffer, name: string) => {
  const f = field(name);
  return buf.subarray(f.offset, f.offset + f.size);
};
const int = (buf: Buffer, name: string) => buf.readInt32LE(field(name).offset);

describe('packCreateMessage (C struct create_msg)', () => {
  it('is 1772 bytes', () => {
    expect(addon.packCreateMessage(full).length).toBe(CREATE_MSG_SIZE);
  });

  it('puts every field at its micad offset, NUL-padded', () => {
    const buf = addon.packCreateMessage(full);
    for (const f of CREATE_MSG_LAYOUT) {
      if (f.kind !== 'string') continue;
      const value = Buffer.from(String(full[f.param!]));
      const expected = Buffer.alloc(f.size);
      value.copy(expected);
      expect(str(buf, f.field), f.field).toEqual(expected);
    }
    expect(buf[594]).toBe(1); // debug
    expect(buf[723]).toBe(0); // alignment pad
    expect(int(buf, 'vcpu_num')).toBe(2);
    expect(int(buf, 'max_vcpu_num')).toBe(8);
    expect(int(buf, 'cpu_weight')).toBe(256);
    expect(int(buf, 'cpu_capacity')).toBe(50);
    expect(int(buf, 'memory')).toBe(128);
    expect(int(buf, 'max_memory')).toBe(256);
  });

  it('pins raw offsets independently of the layout table', () => {
    const buf = addon.packCreateMessage(full);
    expect(buf.subarray(0, 9).toString()).toBe('vm-zephyr');
    expect(buf.subarray(66, 70).toString()).toBe('/run');
    expect(buf.subarray(322, 325).toString()).toBe('xen');
    expect(buf.subarray(338, 342).toString()).toBe('/run');
    expect(buf.subarray(595, 598).toString()).toBe('1-3');
    expect(buf.readInt32LE(724)).toBe(2);
    expect(buf.readInt32LE(744)).toBe(256);
    expect(buf.subarray(748, 753).toString()).toBe('0x100');
    expect(buf.subarray(1260, 1266).toString()).toBe('bridge');
  });

  it('sends unset ints as -1, unset strings and debug as zeros (like mica.py)', () => {
    const buf = addon.packCreateMessage({ name: 'a', firmwarePath: '/f.elf' });
    for (const f of CREATE_MSG_LAYOUT.filter((x) => x.kind === 'int32')) {
      expect(int(buf, f.field), f.field).toBe(-1);
    }
    expect(buf[594]).toBe(0);
    for (const name of ['ped', 'ped_cfg', 'cpu_str', 'iomem', 'network']) {
      expect(str(buf, name).every((b) => b === 0), name).toBe(true);
    }
  });

  it('accepts a 65-byte name and rejects 66 bytes instead of truncating', () => {
    expect(addon.packCreateMessage({ name: 'n'.repeat(65), firmwarePath: '/f' }).subarray(0, 66))
      .toEqual(Buffer.concat([Buffer.from('n'.repeat(65)), Buffer.alloc(1)]));
    expect(() => addon.packCreateMessage({ name: 'n'.repeat(66), firmwarePath: '/f' })).toThrow(
      /name is 66 bytes; micad accepts at most 65/,
    );
  });

  it('counts bytes, not characters (UTF-8)', () => {
    expect(() => addon.packCreateMessage({ name: 'é'.repeat(33), firmwarePath: '/f' })).toThrow(
      /name is 66 bytes/,
    );
  });

  it('rejects a path over 255 bytes and other over-long strings', () => {
    expect(() => addon.packCreateMessage({ name: 'a', firmwarePath: `/${'p'.repeat(255)}` })).toThrow(
      /firmwarePath is 256 bytes; micad accepts at most 255/,
    );
    expect(() => addon.packCreateMessage({ name: 'a', firmwarePath: '/f', pedestal: 'p'.repeat(16) }))
      .toThrow(/pedestal is 16 bytes/);
    expect(() => addon.packCreateMessage({ name: 'a', firmwarePath: '/f', cpus: '1,'.repeat(64) }))
      .toThrow(/cpus is 128 bytes/);
  });

  it('rejects NUL bytes, missing name or path, and non-integer numbers', () => {
    expect(() => addon.packCreateMessage({ name: 'a\0b', firmwarePath: '/f' })).toThrow(/NUL/);
    expect(() => addon.packCreateMessage({ name: '', firmwarePath: '/f' })).toThrow(/name/);
    expect(() => addon.packCreateMessage({ firmwarePath: '/f' } as CreateParams)).toThrow(/name is required/);
    expect(() => addon.packCreateMessage({ name: 'a', firmwarePath: '/f', vcpus: 1.5 })).toThrow(/vcpus/);
    expect(() => addon.packCreateMessage({ name: 'a', firmwarePath: '/f', memoryMiB: -2 })).toThrow(/memoryMiB/);
    expect(() => addon.packCreateMessage({ name: 'a', firmwarePath: '/f', memoryMiB: 2 ** 31 })).toThrow(/memoryMiB/);
    expect(() => addon.packCreateMessage({ name: 'a', firmwarePath: '/f', vcpus: '2' as unknown as number }))
      .toThrow(TypeError);
  });
});

describe('client packing ⇄ micad-sim decoding (contract)', () => {
  it('micad-sim decodes exactly what the C client packed, for any valid parameters', () => {
    const text = (max: number) => fc.string({ unit: 'grapheme-ascii', maxLength: max }).filter((s) => !s.includes('\0'));
    const int = fc.option(fc.integer({ min: -1, max: 2 ** 31 - 1 }), { nil: undefined });
    const params = fc.record(
      {
        name: text(65).filter((s) => s.length > 0),
        firmwarePath: text(255).filter((s) => s.length > 0),
        pedestal: text(15),
        pedestalConfig: text(255),
        debug: fc.boolean(),
        cpus: text(127),
        vcpus: int,
        maxVcpus: int,
        cpuWeight: int,
        cpuCapacity: int,
        memoryMiB: int,
        maxMemoryMiB: int,
        iomem: text(511),
        network: text(511),
      },
      { requiredKeys: ['name', 'firmwarePath'] },
    );
    fc.assert(
      fc.property(params, (p) => {
        const decoded = decodeCreateMessage(addon.packCreateMessage(p as CreateParams));
        expect(decoded).toEqual({
          pedestal: '',
          pedestalConfig: '',
          debug: false,
          cpus: '',
          iomem: '',
          network: '',
          ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)),
          vcpus: p.vcpus ?? -1,
          maxVcpus: p.maxVcpus ?? -1,
          cpuWeight: p.cpuWeight ?? -1,
          cpuCapacity: p.cpuCapacity ?? -1,
          memoryMiB: p.memoryMiB ?? -1,
          maxMemoryMiB: p.maxMemoryMiB ?? -1,
        });
      }),
      { numRuns: 500 },
    );
  });
});
