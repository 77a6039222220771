import { describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { Container, TRANSITIONS, type ContainerState } from '../../src/runtime/container';

const make = (state?: ContainerState) =>
  new Container({
    id: 'c1',
    namespace: 'default',
    bundle: '/b',
    kind: 'app',
    instance: 'c1',
    pid: 42,
    stdio: { stdin: '', stdout: '', stderr: '', terminal: false },
    createdAt: new Date(0).toISOString(),
    sandboxId: 'pod9',
    ...(state ? { state } : {}),
  });

const ALL: ContainerState[] = ['created', 'running', 'paused', 'stopped'];

describe('container state machine', () => {
  test('the table allows exactly these edges', () => {
    expect(TRANSITIONS).toEqual({
      created: ['running', 'stopped'],
      running: ['paused', 'stopped'],
      paused: ['running', 'stopped'],
      stopped: [],
    });
  });

  test.each(ALL.flatMap((from) => ALL.map((to) => [from, to] as const)))('%s → %s follows the table', (from, to) => {
    const c = make(from);
    if (TRANSITIONS[from].includes(to)) {
      c.transition(to);
      expect(c.state).toBe(to);
    } else {
      let err: unknown;
      try {
        c.transition(to);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: Code.FailedPrecondition });
      expect((err as Error).message).toContain('c1');
      expect((err as Error).message).toContain('pod9');
      expect(c.state).toBe(from);
    }
  });

  test('the first exit wins; a second report is ignored', () => {
    const c = make('running');
    expect(c.markExited(3, new Date(1000))).toBe(true);
    expect(c.markExited(137, new Date(2000))).toBe(false);
    expect(c.exitInfo).toEqual({ exitStatus: 3, exitedAt: new Date(1000) });
  });

  test('Wait blocks until the exit is released, not merely recorded', async () => {
    const c = make('running');
    let done = false;
    const waiting = c.waitExit().then((e) => ((done = true), e));
    c.markExited(5, new Date(10));
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    c.releaseWaiters();
    await expect(waiting).resolves.toEqual({ exitStatus: 5, exitedAt: new Date(10) });
    await expect(c.waitExit()).resolves.toMatchObject({ exitStatus: 5 });
  });

  test('Wait is aborted by its signal and leaves no waiter behind', async () => {
    const c = make('created');
    const ac = new AbortController();
    const waiting = c.waitExit(ac.signal);
    ac.abort(new Error('connection closed'));
    await expect(waiting).rejects.toThrow('connection closed');
  });

  test('a record round-trips with its exit', () => {
    const c = make('running');
    c.markExited(0, new Date(5000));
    const again = new Container(c.toRecord());
    expect(again.state).toBe('stopped');
    expect(again.exitInfo).toEqual({ exitStatus: 0, exitedAt: new Date(5000) });
  });
});
