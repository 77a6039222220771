import { describe, expect, it } from 'vitest';
import { armProfile, detectMachine } from '../../src/sim/elf-machine';

/** Attributes section: 'A' <len> "aeabi\0" <Tag_File=1> <len> <attrs>. */
function attributes(attrs: number[]): Buffer {
  const file = Buffer.from([1, 0, 0, 0, 0, ...attrs]);
  file.writeUInt32LE(file.length, 1);
  const vendor = Buffer.from('aeabi\0', 'latin1');
  const sub = Buffer.concat([Buffer.alloc(4), vendor, file]);
  sub.writeUInt32LE(sub.length, 0);
  return Buffer.concat([Buffer.from('A'), sub]);
}

/** A minimal 32-bit little-endian ELF: header, one attributes section, section header table. */
function elf(opts: { machine?: number; elfClass?: number; attrs?: Buffer }): Buffer {
  const header = Buffer.alloc(52);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = opts.elfClass ?? 1;
  header[5] = 1;
  header[6] = 1;
  header.writeUInt16LE(2, 16); // ET_EXEC
  header.writeUInt16LE(opts.machine ?? 40, 18);
  const attrs = opts.attrs ?? Buffer.alloc(0);
  const shoff = 52 + attrs.length;
  const sections = Buffer.alloc(80); // null section + one section
  if (opts.attrs) {
    sections.writeUInt32LE(0x70000003, 40 + 4); // sh_type SHT_ARM_ATTRIBUTES
    sections.writeUInt32LE(52, 40 + 16); // sh_offset
    sections.writeUInt32LE(attrs.length, 40 + 20); // sh_size
  }
  header.writeUInt32LE(shoff, 32);
  header.writeUInt16LE(40, 46);
  header.writeUInt16LE(2, 48);
  return Buffer.concat([header, attrs, sections]);
}

// Tag_CPU_name (5) "cortex-m3", Tag_CPU_arch (6) 10 = v7, Tag_CPU_arch_profile (7) 'M'.
const cortexM3 = attributes([5, ...Buffer.from('cortex-m3\0', 'latin1'), 6, 10, 7, 0x4d]);
const cortexA53 = attributes([5, ...Buffer.from('cortex-a53\0', 'latin1'), 6, 14, 7, 0x41]);

describe('detectMachine', () => {
  it('runs a Cortex-M ELF on mps2-an385', () => {
    expect(detectMachine(elf({ attrs: cortexM3 }))).toEqual({ ok: true, machine: 'mps2-an385' });
  });

  it('reads the profile after string-valued attributes', () => {
    expect(armProfile(elf({ attrs: cortexM3 }))).toBe('M');
    expect(armProfile(elf({ attrs: cortexA53 }))).toBe('A');
  });

  it.each([
    ['a text file', Buffer.from('#!/bin/sh\necho hi\n'.padEnd(64)), /not an ELF file/],
    ['an x86-64 ELF', elf({ elfClass: 2, machine: 62 }), /64-bit/],
    ['an x86 ELF', elf({ machine: 3 }), /machine type 3, not ARM/],
    ['a Cortex-A ELF', elf({ attrs: cortexA53 }), /A profile, not Cortex-M/],
    ['an ARM ELF without attributes', elf({}), /without build attributes/],
    ['a truncated ELF', elf({ attrs: cortexM3 }).subarray(0, 30), /not an ELF file/],
  ])('refuses %s and says why', (_what, bytes, reason) => {
    const result = detectMachine(bytes);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(reason);
  });
});
