import { describe, expect, it } from 'vitest';
import { Code, CodedError } from '../../src/errors';
import { parseStdioUri, type StdioName } from '../../src/shim/io';

describe('parseStdioUri', () => {
  it.each([
    ['stdout', '', { kind: 'none' }],
    ['stdout', '/run/containerd/fifo/1/c1-stdout', { kind: 'fifo', path: '/run/containerd/fifo/1/c1-stdout' }],
    ['stdin', '/run/containerd/fifo/1/c1-stdin', { kind: 'fifo', path: '/run/containerd/fifo/1/c1-stdin' }],
    ['stdout', 'fifo:///tmp/x/stdout', { kind: 'fifo', path: '/tmp/x/stdout' }],
    ['stdout', 'file:///var/log/c1.log', { kind: 'file', path: '/var/log/c1.log' }],
    ['stderr', 'file:///var/log/with%20space.log', { kind: 'file', path: '/var/log/with space.log' }],
    ['stdout', 'binary:///usr/local/bin/logger', { kind: 'binary', path: '/usr/local/bin/logger', args: [] }],
    [
      'stdout',
      'binary:///usr/local/bin/nerdctl?_NERDCTL_INTERNAL_LOGGING=/var/lib/nerdctl/1935db59',
      { kind: 'binary', path: '/usr/local/bin/nerdctl', args: ['_NERDCTL_INTERNAL_LOGGING', '/var/lib/nerdctl/1935db59'] },
    ],
    [
      'stdout',
      'binary:///bin/log?a=1&b=x%2Fy&a=2&flag',
      { kind: 'binary', path: '/bin/log', args: ['a', '1', 'b', 'x/y', 'flag', ''] },
    ],
  ] as [StdioName, string, unknown][])('%s %j', (name, value, want) => {
    expect(parseStdioUri(name, value)).toEqual(want);
  });

  it.each([
    ['stdout', 'tcp://1.2.3.4:5', /unknown STDIO scheme "tcp"/],
    ['stdout', 'binary-v3:///x', /unknown STDIO scheme "binary-v3"/],
    ['stdout', 'relative/fifo', /absolute path/],
    ['stdout', 'binary://usr/local/bin/nerdctl', /names host "usr"/],
    ['stdout', 'file://', /must name a file/],
    ['stdin', 'file:///tmp/in', /output only/],
  ] as [StdioName, string, RegExp][])('%s %j is InvalidArgument', (name, value, message) => {
    let caught: unknown;
    try {
      parseStdioUri(name, value);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CodedError);
    expect((caught as CodedError).code).toBe(Code.InvalidArgument);
    expect((caught as CodedError).message).toMatch(message);
    expect((caught as CodedError).message).toContain(value);
  });
});
