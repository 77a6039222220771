// Regression (issue 11 item 8): a `start` that found the socket live could hand containerd a
// daemon that was already closing, so the Create that followed failed Unavailable. A stopping
// daemon now makes itself unreachable (socket unlinked, listener closed) in the same tick as its
// decision, before draining anything, and a Shutdown-driven stop re-checks that it is idle then.
import { describe, expect, test } from 'vitest';
import { createDaemonStop, type DaemonStopDeps } from '../../src/shim/daemon-stop';

function setUp(idle = true) {
  const steps: string[] = [];
  let finishServing!: () => void;
  const state = { idle };
  const deps: DaemonStopDeps = {
    isIdle: () => state.idle,
    unlinkSocket: () => steps.push('unlink socket'),
    stopServing: () => {
      steps.push('stop accepting');
      return new Promise<void>((r) => (finishServing = () => (steps.push('calls drained'), r())));
    },
    release: async () => void steps.push('release'),
    exit: (code) => void steps.push(`exit ${code}`),
    log: { info: () => {} },
  };
  return { steps, state, stop: createDaemonStop(deps), drain: () => finishServing() };
}

describe('daemon stop', () => {
  test('the daemon is unreachable in the same tick it decides to stop, before anything drains', async () => {
    const { steps, stop, drain } = setUp();
    expect(stop.ifIdle('Shutdown')).toBe(true);
    // Synchronously, before any await: a `start` probing now finds no socket.
    expect(steps).toEqual(['unlink socket', 'stop accepting']);
    drain();
    await new Promise((r) => setTimeout(r, 0));
    expect(steps).toEqual(['unlink socket', 'stop accepting', 'calls drained', 'release', 'exit 0']);
  });

  test('a Shutdown-driven stop does nothing when a container or a Create appeared meanwhile', () => {
    const { steps, stop } = setUp(false);
    expect(stop.ifIdle('Shutdown: no container left')).toBe(false);
    expect(steps).toEqual([]);
  });

  test('a second stop (SIGTERM during Shutdown) neither unlinks nor exits twice', async () => {
    const { steps, stop, drain } = setUp();
    stop.ifIdle('Shutdown');
    const second = stop.now('SIGTERM');
    expect(stop.ifIdle('Shutdown again')).toBe(false);
    drain();
    await second;
    expect(steps.filter((s) => s === 'unlink socket')).toHaveLength(1);
    expect(steps.filter((s) => s.startsWith('exit'))).toEqual(['exit 0']);
  });
});
