// A daemon with no container and no client ends one grace period after its start or its last
// disconnect (src/shim/unused-daemon.ts). Regression (the fault storm's idle pod daemon): a Create
// still in flight at that one check kept the daemon, and nothing ever checked again — when that
// Create (one containerd had given up) ended, the daemon idled for ever.
import { describe, expect, test } from 'vitest';
import { watchUnusedDaemon } from '../../src/shim/unused-daemon';

function setUp(initial: { containers?: number; creating?: boolean; connections?: number } = {}) {
  const state = { containers: 0, creating: false, connections: 0, ...initial };
  const timers: { ms: number; run: () => void }[] = [];
  const ended: string[] = [];
  const checkSoon = watchUnusedDaemon({
    graceMs: 10_000,
    containerCount: () => state.containers,
    creating: () => state.creating,
    connectionCount: async () => state.connections,
    onUnused: (why) => void ended.push(why),
    after: (ms, run) => void timers.push({ ms, run }),
  });
  /** Fires the timers due now (each one once) and lets the async check finish. */
  const elapse = async () => {
    for (const t of timers.splice(0)) t.run();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { state, timers, ended, checkSoon, elapse };
}

describe('unused daemon', () => {
  test('no container, no client, no Create: it ends one grace period later, saying why', async () => {
    const { timers, ended, checkSoon, elapse } = setUp();
    checkSoon('its last client disconnected');
    expect(timers.map((t) => t.ms)).toEqual([10_000]);
    expect(ended).toEqual([]);
    await elapse();
    expect(ended).toEqual(['unused for 10 s: its last client disconnected']);
    expect(timers).toEqual([]); // no timer left behind
  });

  test.each([
    ['a container', { containers: 1 }],
    ['a client', { connections: 1 }],
  ])('with %s it stays, and no timer is left running (a later disconnect checks again)', async (_what, initial) => {
    const { timers, ended, checkSoon, elapse } = setUp(initial);
    checkSoon('nobody connected since its start');
    await elapse();
    expect(ended).toEqual([]);
    expect(timers).toEqual([]);
  });

  test('regression: a Create in flight with no client is looked at again until it ended; left empty, the daemon ends', async () => {
    const { state, timers, ended, checkSoon, elapse } = setUp({ creating: true });
    checkSoon('its last client disconnected');
    await elapse();
    expect(ended).toEqual([]);
    expect(timers.map((t) => t.ms)).toEqual([10_000]); // checked again, not forgotten
    await elapse(); // still creating
    expect(ended).toEqual([]);
    state.creating = false; // the abandoned Create ended and was undone
    await elapse();
    expect(ended).toEqual(['unused for 10 s: its last client disconnected']);
  });

  test('a Create in flight that registers its container (containerd died, will reconnect) keeps the daemon', async () => {
    const { state, timers, ended, checkSoon, elapse } = setUp({ creating: true });
    checkSoon('its last client disconnected');
    await elapse();
    state.creating = false;
    state.containers = 1;
    await elapse();
    expect(ended).toEqual([]);
    expect(timers).toEqual([]);
  });
});
