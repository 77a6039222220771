import { describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { signalAction } from '../../src/runtime/signal-policy';

describe('Kill signal policy', () => {
  test.each([
    [15, { kind: 'stop', exitStatus: 143 }],
    [2, { kind: 'stop', exitStatus: 130 }],
    [9, { kind: 'stop', exitStatus: 137 }],
    [19, { kind: 'pause' }],
    [18, { kind: 'resume' }],
    [28, { kind: 'ignore' }], // SIGWINCH
    [17, { kind: 'ignore' }], // SIGCHLD
    [23, { kind: 'ignore' }], // SIGURG
  ])('signal %i → %j', (signal, action) => {
    expect(signalAction(signal)).toEqual(action);
  });

  test.each([1, 3, 10, 12, 20, 64])('signal %i is refused with InvalidArgument naming it (no silent success)', (signal) => {
    let err: unknown;
    try {
      signalAction(signal);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect((err as Error).message).toMatch(new RegExp(`\\(${signal}\\)|signal ${signal}`));
  });

  test('SIGHUP is named by name', () => {
    expect(() => signalAction(1)).toThrow(/SIGHUP \(1\)/);
  });
});
