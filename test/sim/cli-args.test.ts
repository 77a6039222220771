import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../src/sim/cli-args';
import { parseCpuTimeNs, parseRssBytes } from '../../src/sim/proc-stats';

describe('parseCliArgs', () => {
  it('defaults to micad\'s socket dir and qemu-system-arm', () => {
    expect(parseCliArgs([])).toMatchObject({ socketDir: '/run/mica', qemuPath: 'qemu-system-arm' });
  });

  it('takes "--flag value" and "--flag=value"', () => {
    expect(
      parseCliArgs(['--socket-dir', '/tmp/s', '--state-dir=/tmp/x', '--qemu', 'q', '--machine=m']),
    ).toMatchObject({ socketDir: '/tmp/s', stateDir: '/tmp/x', qemuPath: 'q', machine: 'm' });
  });

  it('names an unknown option or a missing value', () => {
    expect(() => parseCliArgs(['--sockets', 'x'])).toThrow(/unknown option --sockets/);
    expect(() => parseCliArgs(['--socket-dir'])).toThrow(/--socket-dir needs a value/);
  });

  it('refuses relative directories (regression: a relative --socket-dir was wiped relative to the cwd)', () => {
    expect(() => parseCliArgs(['--socket-dir', 'run/mica'])).toThrow(/--socket-dir must be an absolute path, got "run\/mica"/);
    expect(() => parseCliArgs(['--socket-dir=.'])).toThrow(/--socket-dir must be an absolute path/);
    expect(() => parseCliArgs(['--state-dir', 'x'])).toThrow(/--state-dir must be an absolute path/);
  });
});

describe('proc stats', () => {
  it('adds utime and stime, counting fields after the command name', () => {
    const stat = '1234 (qemu (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0';
    expect(parseCpuTimeNs(stat)).toBe(3_000_000_000);
  });

  it('reads VmRSS in bytes', () => {
    expect(parseRssBytes('Name:\tqemu\nVmRSS:\t   41016 kB\nVmSwap:\t0 kB\n')).toBe(41016 * 1024);
    expect(parseRssBytes('Name:\tzombie\n')).toBe(0);
  });
});
