import { describe, expect, test } from 'vitest';
import { Container } from '../../src/runtime/container';
import { ExitMonitor, exitStatusOf, EXIT_INSTANCE_FAILED, EXIT_INSTANCE_GONE } from '../../src/runtime/exit-monitor';
import { FakeMica } from './fake-mica';

describe('exitStatusOf', () => {
  test.each([
    [{ kind: 'state', state: 'Running' }, undefined],
    [{ kind: 'state', state: 'Suspended' }, undefined],
    [{ kind: 'state', state: 'Stopped', exitCode: 3 }, 3],
    [{ kind: 'state', state: 'Stopped' }, 0],
    [{ kind: 'state', state: 'Offline' }, 0],
    [{ kind: 'state', state: 'Error' }, EXIT_INSTANCE_FAILED],
    [{ kind: 'gone' }, EXIT_INSTANCE_GONE],
  ] as const)('%j → %s', (obs, status) => {
    expect(exitStatusOf(obs)).toBe(status);
  });
});

const running = (id: string) =>
  new Container({
    id,
    namespace: 'default',
    bundle: '/b',
    kind: 'app',
    instance: id,
    pid: 1,
    stdio: { stdin: '', stdout: '', stderr: '', terminal: false },
    createdAt: '',
    state: 'running',
  });

async function startedInstance(mica: FakeMica, id: string) {
  await mica.create({ name: id, firmwarePath: '/fw' });
  await mica.start(id);
}

describe('ExitMonitor', () => {
  test('reports a firmware exit once, with its code, at the next poll', async () => {
    const mica = new FakeMica();
    await startedInstance(mica, 'a');
    const exits: [string, number][] = [];
    const monitor = new ExitMonitor({ mica, intervalMs: 20, onExit: (c, s) => exits.push([c.id, s]) });
    monitor.watch(running('a'));
    await new Promise((r) => setTimeout(r, 50));
    expect(exits).toEqual([]);
    const statusCalls = () => mica.calls.filter((c) => c === 'status a').length;
    const pollsBefore = statusCalls();
    mica.finish('a', 3);
    while (exits.length === 0) await new Promise((r) => setTimeout(r, 5));
    // Counted in polls, not milliseconds: the first status after the exit reports it (one poll
    // may already have been in flight when the firmware finished).
    expect(statusCalls() - pollsBefore).toBeLessThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 80));
    monitor.close();
    expect(exits).toEqual([['a', 3]]);
  });

  test('regression: a firmware that exits right after Start is seen in the first polls, not after a full interval', async () => {
    const mica = new FakeMica();
    await startedInstance(mica, 'quick');
    const exits: number[] = [];
    // An interval far longer than the test's timeout: the exit can only be seen by the quick
    // first polls, so a monitor that waits a full interval fails this test by timing out.
    const monitor = new ExitMonitor({ mica, intervalMs: 3_600_000, onExit: (_c, s) => exits.push(s) });
    monitor.watch(running('quick'));
    mica.finish('quick', 0);
    while (exits.length === 0) await new Promise((r) => setTimeout(r, 2));
    monitor.close();
    expect(exits).toEqual([0]);
  });

  test('an instance that vanished from micad is an exit (255)', async () => {
    const mica = new FakeMica();
    await startedInstance(mica, 'b');
    const exits: number[] = [];
    const monitor = new ExitMonitor({ mica, intervalMs: 10, onExit: (_c, s) => exits.push(s) });
    monitor.watch(running('b'));
    mica.instances.delete('b');
    await new Promise((r) => setTimeout(r, 60));
    monitor.close();
    expect(exits).toEqual([255]);
  });

  test('falls back to status on a real micad (info Unimplemented)', async () => {
    const mica = new FakeMica();
    mica.simulator = false;
    await startedInstance(mica, 'c');
    const exits: number[] = [];
    const monitor = new ExitMonitor({ mica, intervalMs: 10, onExit: (_c, s) => exits.push(s) });
    monitor.watch(running('c'));
    await new Promise((r) => setTimeout(r, 40));
    mica.instances.get('c')!.state = 'Error';
    await new Promise((r) => setTimeout(r, 60));
    monitor.close();
    expect(exits).toEqual([255]);
    expect(mica.calls.filter((c) => c.startsWith('info')).length).toBe(1);
    expect(mica.calls.filter((c) => c.startsWith('status')).length).toBeGreaterThan(1);
  });

  test('one poller for many containers; rounds never overlap even when micad is slow', async () => {
    const mica = new FakeMica();
    mica.delayMs = 30; // slower than the poll period
    const ids = Array.from({ length: 5 }, (_, i) => `m${i}`);
    for (const id of ids) await startedInstance(mica, id);
    mica.calls.length = 0;
    const monitor = new ExitMonitor({ mica, intervalMs: 5, onExit: () => {} });
    for (const id of ids) monitor.watch(running(id));
    mica.maxInFlight = 0;
    await new Promise((r) => setTimeout(r, 200));
    monitor.close();
    // 5 containers queried concurrently per round, but never two rounds at once.
    expect(mica.maxInFlight).toBeLessThanOrEqual(ids.length);
    expect(mica.calls.filter((c) => c === 'info m0').length).toBeGreaterThan(1);
  });
});
