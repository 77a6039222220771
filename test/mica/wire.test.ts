import { describe, expect, it } from 'vitest';
import {
  CREATE_MSG_LAYOUT,
  CREATE_MSG_SIZE,
  formatReply,
  formatStatusLine,
  MAX_COMMAND_BYTES,
  parseReply,
  statusDisplayName,
} from '../../src/mica/wire';

describe('create_msg layout table', () => {
  it('covers every byte of the 1772-byte message exactly once, in order', () => {
    let next = 0;
    for (const f of CREATE_MSG_LAYOUT) {
      expect(f.offset, f.field).toBe(next);
      next = f.offset + f.size;
    }
    expect(next).toBe(CREATE_MSG_SIZE);
  });

  it('puts the ints after one padding byte at 723, 4-byte aligned', () => {
    const pad = CREATE_MSG_LAYOUT.find((f) => f.kind === 'pad');
    expect(pad).toMatchObject({ offset: 723, size: 1 });
    for (const f of CREATE_MSG_LAYOUT.filter((x) => x.kind === 'int32')) {
      expect(f.offset % 4, f.field).toBe(0);
    }
  });
});

describe('parseReply', () => {
  it.each([
    ['MICA-SUCCESS', { ok: true, text: '' }],
    ['MICA-FAILED', { ok: false, text: '' }],
    ['No such file: /x.elfMICA-FAILED', { ok: false, text: 'No such file: /x.elf' }],
    ['  line with spaces   MICA-SUCCESS', { ok: true, text: 'line with spaces' }],
    // FAILED is checked first: a failure whose text mentions success is still a failure
    ['printed MICA-SUCCESS then MICA-FAILED', { ok: false, text: 'printed MICA-SUCCESS then' }],
    ['The elf file does not support debugging\nMICA-FAILED', {
      ok: false,
      text: 'The elf file does not support debugging',
    }],
  ])('%j -> %j', (input, expected) => {
    expect(parseReply(input)).toEqual(expected);
  });

  it('returns undefined while no marker has arrived (EOF now would be a protocol error)', () => {
    expect(parseReply('')).toBeUndefined();
    expect(parseReply('vm0  Running  MICA-SUCC')).toBeUndefined();
  });

  it('round-trips formatReply', () => {
    expect(parseReply(formatReply(false, 'vm0 is already created'))).toEqual({
      ok: false,
      text: 'vm0 is already created',
    });
    expect(formatReply(true)).toBe('MICA-SUCCESS');
  });
});

describe('status line format', () => {
  it('pads name to 30, cpu to 20, state to 20, services with trailing spaces', () => {
    const line = formatStatusLine('vm0', '1-3', 'Running', ['rpmsg-tty(/dev/ttyRPMSG0)', 'rpmsg-rpc']);
    expect(line).toBe(
      'vm0'.padEnd(30) + '1-3'.padEnd(20) + 'Running'.padEnd(20) + 'rpmsg-tty(/dev/ttyRPMSG0) rpmsg-rpc ',
    );
  });

  it('shortens names over 31 chars to first 12 + "..." + last char', () => {
    expect(statusDisplayName('a'.repeat(31))).toBe('a'.repeat(31));
    const id = '0123456789abcdef'.repeat(4);
    expect(statusDisplayName(id)).toBe('0123456789ab...f');
  });

  it('allows 31 command bytes', () => {
    expect(MAX_COMMAND_BYTES).toBe(31);
  });
});
