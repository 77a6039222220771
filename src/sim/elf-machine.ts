// Picks the QEMU machine for a firmware ELF from its header, so `create` can refuse firmware
// micad-sim cannot run and say why. Pure: reads only the bytes it is given.
//
// ARM ELF headers do not name the core; the build attributes do (.ARM.attributes,
// Tag_CPU_arch_profile = 'M' for Cortex-M). A Cortex-M image runs on mps2-an385 (Cortex-M3,
// the oldest v7-M: a v6-M/v7-M/v7E-M image built for it also runs there as long as it uses no
// FPU). Anything else needs an explicit --machine.

export const DEFAULT_CORTEX_M_MACHINE = 'mps2-an385';

export type MachineDecision = { ok: true; machine: string } | { ok: false; reason: string };

const EM_ARM = 40;
const SHT_ARM_ATTRIBUTES = 0x70000003;
const TAG_FILE = 1;
const TAG_CPU_ARCH_PROFILE = 7;

export function detectMachine(elf: Buffer): MachineDecision {
  if (elf.length < 52 || elf.readUInt32BE(0) !== 0x7f454c46) {
    return { ok: false, reason: 'not an ELF file' };
  }
  if (elf[4] !== 1) return { ok: false, reason: 'a 64-bit ELF (only 32-bit ARM is emulated)' };
  if (elf[5] !== 1) return { ok: false, reason: 'a big-endian ELF (only little-endian ARM)' };
  const machine = elf.readUInt16LE(18);
  if (machine !== EM_ARM) {
    return { ok: false, reason: `an ELF for machine type ${machine}, not ARM (${EM_ARM})` };
  }
  const profile = armProfile(elf);
  if (profile === 'M') return { ok: true, machine: DEFAULT_CORTEX_M_MACHINE };
  return {
    ok: false,
    reason:
      profile === undefined
        ? 'an ARM ELF without build attributes: cannot tell the core (start micad-sim with --machine)'
        : `an ARM ELF for the ${profile} profile, not Cortex-M (start micad-sim with --machine)`,
  };
}

/** Tag_CPU_arch_profile from .ARM.attributes ('A', 'R', 'M', 'S'), or undefined. */
export function armProfile(elf: Buffer): string | undefined {
  const shoff = elf.readUInt32LE(32);
  const shentsize = elf.readUInt16LE(46);
  const shnum = elf.readUInt16LE(48);
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * shentsize;
    if (sh + 40 > elf.length) return undefined;
    if (elf.readUInt32LE(sh + 4) !== SHT_ARM_ATTRIBUTES) continue;
    const offset = elf.readUInt32LE(sh + 16);
    const size = elf.readUInt32LE(sh + 20);
    if (offset + size > elf.length) return undefined;
    return profileFromAttributes(elf.subarray(offset, offset + size));
  }
  return undefined;
}

/**
 * Walks the "aeabi" subsection's file-scope attributes (ARM IHI 0045: format 'A', then
 * <length><vendor NUL><tag><length><attributes>). Tags 4, 5, 65, 67 and odd tags above 32 carry
 * NUL-terminated strings, 32 a ULEB and a string, the rest a ULEB.
 */
function profileFromAttributes(sec: Buffer): string | undefined {
  if (sec[0] !== 0x41) return undefined;
  let pos = 1;
  while (pos + 4 <= sec.length) {
    const subLen = sec.readUInt32LE(pos);
    const subEnd = pos + subLen;
    if (subLen < 5 || subEnd > sec.length) return undefined;
    const vendorEnd = sec.indexOf(0, pos + 4);
    const vendor = sec.subarray(pos + 4, vendorEnd).toString('latin1');
    let p = vendorEnd + 1;
    while (vendor === 'aeabi' && p + 5 <= subEnd) {
      const tag = sec[p]!;
      const len = sec.readUInt32LE(p + 1);
      const end = p + len;
      if (len < 5 || end > subEnd) return undefined;
      if (tag === TAG_FILE) {
        let q = p + 5;
        while (q < end) {
          const [attr, afterTag] = uleb(sec, q);
          q = afterTag;
          if (attr === TAG_CPU_ARCH_PROFILE) {
            const [value] = uleb(sec, q);
            return value === 0 ? undefined : String.fromCharCode(value);
          }
          if (attr === 4 || attr === 5 || attr === 65 || attr === 67 || (attr > 32 && attr % 2 === 1)) {
            q = sec.indexOf(0, q) + 1;
          } else if (attr === 32) {
            q = sec.indexOf(0, uleb(sec, q)[1]) + 1;
          } else {
            q = uleb(sec, q)[1];
          }
          if (q <= 0) return undefined;
        }
      }
      p = end;
    }
    pos = subEnd;
  }
  return undefined;
}

function uleb(buf: Buffer, start: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  let pos = start;
  while (pos < buf.length) {
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
  }
  return [value, pos];
}
