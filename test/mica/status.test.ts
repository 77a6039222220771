import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Code, CodedError } from '../../src/errors';
import { parseStatus } from '../../src/mica/status';
import { INSTANCE_STATES } from '../../src/mica/types';
import { formatStatusLine } from '../../src/mica/wire';

/** A line exactly as micad's snprintf("%-30s%-20s%-20s%s") builds it. */
const line = (name: string, cpu: string, state: string, services: string) =>
  name.padEnd(30) + cpu.padEnd(20) + state.padEnd(20) + services;

describe('parseStatus', () => {
  it.each(INSTANCE_STATES.map((s) => [s]))('recognises state %s', (state) => {
    const s = parseStatus(line('vm0', '1', state, ''));
    expect(s).toEqual({ displayName: 'vm0', cpus: '1', state, services: [] });
  });

  it.each([
    ['/dev/ttyRPMSG0'],
    ['/dev/ttyRPMSG_qemu-zephyr_0'],
    ['/dev/pts/3'],
  ])('exposes the console path %s from rpmsg-tty(...)', (tty) => {
    const s = parseStatus(line('zephyr', '3', 'Running', `rpmsg-tty(${tty}) rpmsg-rpc rpmsg-umt `));
    expect(s.console).toBe(tty);
    expect(s.services).toEqual([`rpmsg-tty(${tty})`, 'rpmsg-rpc', 'rpmsg-umt']);
  });

  it('has no console before the RTOS announced its tty', () => {
    const s = parseStatus(line('zephyr', '3', 'Running', 'rpmsg-rpc '));
    expect(s.console).toBeUndefined();
    expect(s).not.toHaveProperty('console');
  });

  it('handles an empty cpu column (20 spaces)', () => {
    const s = parseStatus(line('uniproton', '', 'Offline', ''));
    expect(s).toEqual({ displayName: 'uniproton', cpus: '', state: 'Offline', services: [] });
  });

  it('handles a cpu_str of 20+ chars running into the state column', () => {
    const cpu = '0,1,2,3,4,5,6,7,8,9,10';
    const s = parseStatus(line('vm1', cpu, 'Running', 'rpmsg-tty(/dev/pts/9) '));
    expect(s).toMatchObject({ displayName: 'vm1', cpus: cpu, state: 'Running', console: '/dev/pts/9' });
  });

  it('handles a name micad shortened (64-hex container id)', () => {
    const id = 'a3f1c2d4e5b6a7980123456789abcdef0123456789abcdef0123456789abcde9';
    const s = parseStatus(formatStatusLine(id, '1-3', 'Stopped', []));
    expect(s).toEqual({ displayName: 'a3f1c2d4e5b6...9', cpus: '1-3', state: 'Stopped', services: [] });
  });

  it('handles a 31-char name that fills its column and one more byte', () => {
    const name = 'n'.repeat(31);
    expect(parseStatus(line(name, '', 'Ready', ''))).toMatchObject({ displayName: name, cpus: '' });
    expect(parseStatus(line(name, '2', 'Ready', ''))).toMatchObject({ displayName: name, cpus: '2' });
  });

  it('is not fooled by a name that is itself a state word', () => {
    const s = parseStatus(line('Running', '', 'Offline', ''));
    expect(s).toMatchObject({ displayName: 'Running', state: 'Offline' });
  });

  it('accepts the trailing-space-trimmed text that parseReply returns', () => {
    const s = parseStatus(line('vm0', '1', 'Offline', '').trimEnd());
    expect(s.state).toBe('Offline');
  });

  it('falls back to whitespace fields for unpadded lines', () => {
    expect(parseStatus('vm0 Running rpmsg-tty(/dev/pts/1)')).toMatchObject({
      displayName: 'vm0',
      cpus: '',
      state: 'Running',
      console: '/dev/pts/1',
    });
  });

  it('throws Internal naming the text when there is no state', () => {
    const err = (() => {
      try {
        parseStatus('garbage without state');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CodedError);
    expect((err as CodedError).code).toBe(Code.Internal);
    expect((err as CodedError).message).toContain('garbage without state');
  });
});

describe('parseStatus round-trips formatStatusLine (property)', () => {
  it('recovers cpu, state, services and console for any micad line', () => {
    const name = fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,69}$/);
    const cpus = fc.oneof(fc.constant(''), fc.stringMatching(/^[0-9][0-9,-]{0,39}$/));
    const state = fc.constantFrom(...INSTANCE_STATES);
    const tty = fc.constantFrom('/dev/ttyRPMSG0', '/dev/ttyRPMSG_vm_0', '/dev/pts/12');
    const services = fc.subarray(['rpmsg-rpc', 'rpmsg-umt', 'debug-rtos-kernel']);
    fc.assert(
      fc.property(name, cpus, state, fc.option(tty), services, (n, c, s, t, svc) => {
        // The one layout micad makes ambiguous: a 30-char name glued to a 21+ char cpu_str.
        fc.pre(!(n.length === 30 && c.length > 20));
        const tokens = t ? [`rpmsg-tty(${t})`, ...svc] : svc;
        const parsed = parseStatus(formatStatusLine(n, c, s, tokens));
        expect(parsed.cpus).toBe(c);
        expect(parsed.state).toBe(s);
        expect(parsed.services).toEqual(tokens);
        expect(parsed.console).toBe(t ?? undefined);
        expect(parsed.displayName).toBe(n.length <= 31 ? n : `${n.slice(0, 12)}...${n.slice(-1)}`);
      }),
      { numRuns: 2000 },
    );
  });
});
