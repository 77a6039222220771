import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCreateMessage } from '../../src/sim/create-message';
import { Instance } from '../../src/sim/instance';
import { handleCommand, commandText } from '../../src/sim/command-handler';

const privateRoot = mkdtempSync(join(tmpdir(), 'micad-sim-unit-'));
afterAll(() => rmSync(privateRoot, { recursive: true, force: true }));

function instance(name: string, cpus = ''): Instance {
  const msg = Buffer.alloc(1772);
  msg.write(name, 0);
  msg.write('/fw.elf', 66);
  msg.write(cpus, 595);
  return new Instance(name, decodeCreateMessage(msg), {
    qemuPath: '/nonexistent/qemu',
    machine: 'mps2-an385',
    privateDir: join(privateRoot, name),
    log: () => {},
  });
}

describe('status line', () => {
  it('is micad\'s %-30s%-20s%-20s%s with no services before start', () => {
    const line = instance('rtos1', '1-3').statusLine();
    expect(line).toBe(`${'rtos1'.padEnd(30)}${'1-3'.padEnd(20)}${'Offline'.padEnd(20)}`);
    expect(line.length).toBe(70);
  });

  it('shortens names over 31 characters to first 12 + "..." + last', () => {
    const id = 'f'.repeat(12) + '0123456789abcdef0123456789abcdef0123456789abcdef012z';
    expect(instance(id).statusLine().slice(0, 30).trimEnd()).toBe(`${'f'.repeat(12)}...z`);
    const exact31 = 'a'.repeat(31);
    expect(instance(exact31).statusLine().startsWith(exact31)).toBe(true);
  });

  it('shows a cpu list set after create in the cpu column', async () => {
    const inst = instance('rtos2');
    const out = await handleCommand(inst, 'set CPU 0-1');
    expect(out.reply).toBe('MICA-SUCCESS');
    expect(inst.statusLine().slice(30, 50)).toBe('0-1'.padEnd(20));
  });
});

describe('handleCommand', () => {
  it.each([
    ['bogus', 'Invalid command: bogusMICA-FAILED'],
    ['start\n', 'Invalid command: start\nMICA-FAILED'], // micad compares whole strings: no newline
    ['set cpu', 'Invalid set command. Usage: set <key> <value>MICA-FAILED'],
    ['gdb', 'The elf file does not support debugging\nMICA-FAILED'],
    ['resume', 'x is Offline, not Suspended: cannot resumeMICA-FAILED'],
  ])('answers %j exactly like micad', async (msg, reply) => {
    expect((await handleCommand(instance('x'), msg)).reply).toBe(reply);
  });

  it('replies status text followed by MICA-SUCCESS', async () => {
    const out = await handleCommand(instance('y'), 'status');
    expect(out.reply).toMatch(/^y {29} {20}Offline {13}MICA-SUCCESS$/);
  });

  it('reports a QEMU that cannot run as MICA-FAILED with the reason, state Error', async () => {
    const inst = instance('z');
    const out = await handleCommand(inst, 'start');
    expect(out.reply).toMatch(/MICA-FAILED$/);
    expect(out.removed).toBe(false);
    expect((await inst.info()).state).toBe('Error');
    await inst.remove();
  });

  it('reads a command like micad\'s 32-byte recv: up to the first NUL, never past 32 bytes', () => {
    expect(commandText(Buffer.from('status\0garbage'))).toBe('status');
    expect(commandText(Buffer.from('x'.repeat(40))).length).toBe(32);
  });
});
