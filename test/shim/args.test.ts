import { describe, expect, test } from 'vitest';
import { parseArgs, UsageError } from '../../src/shim/args';

const base = ['-namespace', 'default', '-address', '/run/containerd/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', 'abc'];

describe('parseArgs (Go flag syntax, as containerd builds it)', () => {
  test('containerd 1.6 start command line', () => {
    const a = parseArgs([...base, '-debug', 'start']);
    expect(a).toMatchObject({ namespace: 'default', address: '/run/containerd/containerd.sock', publishBinary: '/usr/bin/containerd', id: 'abc', debug: true, action: 'start' });
  });

  test('delete with -bundle and without -debug', () => {
    const a = parseArgs([...base, '-bundle', '/b', 'delete']);
    expect(a.action).toBe('delete');
    expect(a.bundle).toBe('/b');
    expect(a.debug).toBe(false);
  });

  test('--flag value and -flag=value forms are equivalent', () => {
    const a = parseArgs(['--namespace', 'ns', '-id=x', '--address=/a', 'start']);
    expect(a).toMatchObject({ namespace: 'ns', id: 'x', address: '/a', action: 'start' });
  });

  test('-debug=false is a boolean with a value, not a flag eating the next word', () => {
    expect(parseArgs([...base, '-debug=false', 'start']).debug).toBe(false);
    expect(() => parseArgs([...base, '-debug=maybe', 'start'])).toThrow(UsageError);
  });

  test('parsing stops at the first non-flag word', () => {
    expect(() => parseArgs([...base, 'start', '-debug'])).toThrow(/unknown action "start -debug"/);
  });

  test('-info and -v need no other flags', () => {
    expect(parseArgs(['-info']).action).toBe('info');
    expect(parseArgs(['-v']).action).toBe('version');
    expect(parseArgs(['--version']).action).toBe('version');
  });

  test.each([
    [[...base, 'run'], /unknown action "run"/],
    [[...base], /missing action/],
    [['-bogus', 'start'], /flag provided but not defined: -bogus/],
    [['-id'], /flag needs an argument: -id/],
    [['-namespace', 'n', 'start'], /-id is required/],
    [['-id', 'x', 'delete'], /-namespace is required/],
  ])('usage error for %j', (argv, message) => {
    expect(() => parseArgs(argv as string[])).toThrow(message as RegExp);
  });
});
