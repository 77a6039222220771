import { describe, expect, it } from 'vitest';
import { decodeCreateMessage } from '../../src/sim/create-message';

/**
 * Packs like mica.py: struct.pack('66s256s16s256s?128siiiiii512s512s', ...) with native
 * alignment on x86-64/aarch64, written out field by field (not through wire.ts, so a wrong
 * layout constant there is caught here).
 */
function packLikeMicaPy(f: {
  name: string;
  path: string;
  ped: string;
  pedCfg: string;
  debug: boolean;
  cpu: string;
  ints: [number, number, number, number, number, number];
  iomem: string;
  network: string;
}): Buffer {
  const buf = Buffer.alloc(1772);
  let off = 0;
  const str = (s: string, size: number) => {
    buf.write(s, off, size, 'utf8');
    off += size;
  };
  str(f.name, 66);
  str(f.path, 256);
  str(f.ped, 16);
  str(f.pedCfg, 256);
  buf[off++] = f.debug ? 1 : 0; // '?'
  str(f.cpu, 128);
  off += 1; // 'i' aligns to 4: 595 + 128 = 723 → 724
  for (const i of f.ints) {
    buf.writeInt32LE(i, off);
    off += 4;
  }
  str(f.iomem, 512);
  str(f.network, 512);
  expect(off).toBe(1772);
  return buf;
}

describe('decodeCreateMessage', () => {
  it('reads every field of a message packed with mica.py layout', () => {
    const msg = packLikeMicaPy({
      name: 'qemu-uniproton-xen',
      path: '/lib/firmware/qemu-uniproton-xen.elf',
      ped: 'xen',
      pedCfg: '/lib/firmware/qemu-uniproton-xen.bin',
      debug: true,
      cpu: '1-3',
      ints: [1, 4, 256, 50, 1024, 2048],
      iomem: '["0x10000,1"]',
      network: 'bridge=xenbr0',
    });
    expect(decodeCreateMessage(msg)).toEqual({
      name: 'qemu-uniproton-xen',
      firmwarePath: '/lib/firmware/qemu-uniproton-xen.elf',
      pedestal: 'xen',
      pedestalConfig: '/lib/firmware/qemu-uniproton-xen.bin',
      debug: true,
      cpus: '1-3',
      vcpus: 1,
      maxVcpus: 4,
      cpuWeight: 256,
      cpuCapacity: 50,
      memoryMiB: 1024,
      maxMemoryMiB: 2048,
      iomem: '["0x10000,1"]',
      network: 'bridge=xenbr0',
    });
  });

  it('keeps mica.py\'s -1 for unset ints and "" for unset strings', () => {
    const msg = packLikeMicaPy({
      name: 'a', path: '/f.elf', ped: '', pedCfg: '', debug: false, cpu: '',
      ints: [-1, -1, -1, -1, -1, -1], iomem: '', network: '',
    });
    const d = decodeCreateMessage(msg);
    expect([d.vcpus, d.maxVcpus, d.cpuWeight, d.cpuCapacity, d.memoryMiB, d.maxMemoryMiB]).toEqual([
      -1, -1, -1, -1, -1, -1,
    ]);
    expect(d.pedestal).toBe('');
    expect(d.debug).toBe(false);
  });

  it('reads a short message as if the missing tail were zeros, like micad', () => {
    const full = packLikeMicaPy({
      name: 'short', path: '/fw.elf', ped: '', pedCfg: '', debug: false, cpu: '0',
      ints: [2, 2, 2, 2, 2, 2], iomem: 'x', network: 'y',
    });
    const d = decodeCreateMessage(full.subarray(0, 400));
    expect(d.name).toBe('short');
    expect(d.firmwarePath).toBe('/fw.elf');
    expect(d.cpus).toBe('');
    expect(d.vcpus).toBe(0);
    expect(d.network).toBe('');
  });

  it('forces name[65] to NUL: a 66-byte name keeps 65 bytes', () => {
    const msg = Buffer.alloc(1772);
    msg.write('n'.repeat(66), 0, 66);
    expect(decodeCreateMessage(msg).name).toBe('n'.repeat(65));
  });

  it('takes a path that fills its whole field without a NUL', () => {
    const msg = Buffer.alloc(1772);
    msg.write('x', 0);
    msg.write('p'.repeat(256), 66, 256);
    expect(decodeCreateMessage(msg).firmwarePath).toBe('p'.repeat(256));
    expect(decodeCreateMessage(msg).pedestal).toBe('');
  });

  it('refuses a message longer than struct create_msg', () => {
    expect(() => decodeCreateMessage(Buffer.alloc(1773))).toThrow(/1773 bytes/);
  });
});
