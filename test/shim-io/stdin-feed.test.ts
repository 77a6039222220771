// stdin's lifecycle table (src/shim/io/stdin-lifecycle.ts) walked through StdinFeed: each
// transition is driven by its real cause (bytes, EOF, an error on the fifo stream, the reopen
// settling, CloseIO/attach/exit from TaskIO) and checked by its effect on the streams.
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StdinFeed } from '../../src/shim/io/stdin-feed';
import { STDIN_TRANSITIONS, stdinTransition, type StdinEvent, type StdinState } from '../../src/shim/io/stdin-lifecycle';

const QUIET_MS = 20;
const settle = async (rounds = 5) => {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

interface Deferred {
  resolve(stream: PassThrough): void;
  reject(err: Error): void;
}

/** A feed over PassThrough streams, with the console's liveness and the reopen in the test's hands. */
function makeFeed(withStdin = true) {
  const stream = new PassThrough();
  const consoleStream = new PassThrough();
  const received: Buffer[] = [];
  consoleStream.on('data', (c: Buffer) => received.push(c));
  const reopens: Deferred[] = [];
  const logs: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  let live = false;
  const feed = new StdinFeed(withStdin ? stream : undefined, {
    liveConsole: () => (live ? consoleStream : undefined),
    reopen: () => new Promise((resolve, reject) => reopens.push({ resolve, reject })),
    quietMs: QUIET_MS,
    logger,
  });
  const t = {
    feed,
    stream,
    reopens,
    logs,
    received: () => Buffer.concat(received).toString(),
    attach() {
      live = true;
      feed.consoleAttached();
    },
    hangUp() {
      live = false;
      feed.consoleGone();
    },
    setLive(value: boolean) {
      live = value;
    },
    /** Brings the feed into `state` the way a task's IO gets there. */
    async into(state: StdinState) {
      switch (state) {
        case 'none':
        case 'waiting':
          break;
        case 'flowing':
          t.attach();
          break;
        case 'close-requested':
          feed.closeIO();
          break;
        case 'draining':
          t.attach();
          feed.closeIO();
          break;
        case 'reopening':
          t.attach();
          stream.end();
          await settle();
          break;
        case 'closed':
          t.attach();
          feed.taskExit();
          break;
      }
      expect(feed.state).toBe(state);
      return t;
    },
  };
  return t;
}

const feedIn = (state: StdinState) => makeFeed(state !== 'none').into(state);
const warned = (logs: { level: number; msg: string }[]) => logs.filter((l) => l.level === 40).map((l) => l.msg);

afterEach(() => {
  vi.useRealTimers();
});

describe('stdin lifecycle: each transition of the table', () => {
  it('none: a spec without stdin never leaves none, whatever TaskIO reports', async () => {
    const t = await feedIn('none');
    t.attach();
    t.feed.closeIO();
    t.hangUp();
    t.feed.taskExit();
    expect(t.feed.state).toBe('none');
    expect(t.reopens).toHaveLength(0);
  });

  it('waiting + console-attached → flowing: bytes that waited in the fifo reach the console first', async () => {
    const t = await feedIn('waiting');
    t.stream.write('typed early\n');
    await settle();
    expect(t.received()).toBe('');
    t.attach();
    t.stream.write('then live\n');
    await settle();
    expect(t.feed.state).toBe('flowing');
    expect(t.received()).toBe('typed early\nthen live\n');
    expect(t.feed.bytes).toBe(22);
  });

  it('waiting + close-io → close-requested: nothing is read or closed until a console exists', async () => {
    const t = await feedIn('waiting');
    t.stream.write('before CloseIO\n');
    t.feed.closeIO();
    await settle();
    expect(t.feed.state).toBe('close-requested');
    expect(t.stream.destroyed).toBe(false);
    expect(t.received()).toBe('');
  });

  it('flowing + data → flowing: bytes are counted and copied', async () => {
    const t = await feedIn('flowing');
    t.stream.write('abc');
    await settle();
    expect(t.feed.state).toBe('flowing');
    expect(t.feed.bytes).toBe(3);
    expect(t.received()).toBe('abc');
  });

  it('flowing + console-gone → waiting: bytes typed meanwhile wait for the next console', async () => {
    const t = await feedIn('flowing');
    t.hangUp();
    expect(t.feed.state).toBe('waiting');
    t.stream.write('typed while no console\n');
    await settle();
    expect(t.received()).toBe('');
    t.attach();
    await settle();
    expect(t.feed.state).toBe('flowing');
    expect(t.received()).toBe('typed while no console\n');
  });

  it('flowing + close-io → draining: what the client wrote before CloseIO still arrives', async () => {
    const t = await feedIn('flowing');
    t.feed.closeIO();
    expect(t.feed.state).toBe('draining');
    t.stream.write('last words\n');
    await settle();
    expect(t.received()).toBe('last words\n');
    expect(t.stream.destroyed).toBe(false);
  });

  it('flowing + eof → reopening: the writer went away without CloseIO, a fresh read side is opened', async () => {
    const t = await feedIn('flowing');
    t.stream.end('bye\n');
    await settle();
    expect(t.feed.state).toBe('reopening');
    expect(t.stream.destroyed).toBe(true);
    expect(t.reopens).toHaveLength(1);
    expect(t.received()).toBe('bye\n');
  });

  it('close-requested + console-attached → draining, and quiet then closes', async () => {
    const t = await feedIn('close-requested');
    t.stream.write('before\n');
    t.attach();
    expect(t.feed.state).toBe('draining');
    await settle();
    expect(t.received()).toBe('before\n');
    await vi.waitFor(() => expect(t.feed.state).toBe('closed'), { timeout: 10_000 });
    expect(t.stream.destroyed).toBe(true);
  });

  it('draining + data → draining: every byte starts the quiet period again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const t = await feedIn('draining');
    vi.advanceTimersByTime(QUIET_MS - 5);
    t.stream.write('x');
    await settle();
    vi.advanceTimersByTime(QUIET_MS - 5);
    expect(t.feed.state).toBe('draining');
    vi.advanceTimersByTime(5);
    expect(t.feed.state).toBe('closed');
    expect(t.received()).toBe('x');
  });

  it('draining + quiet → closed: stdin is closed for good', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const t = await feedIn('draining');
    vi.advanceTimersByTime(QUIET_MS);
    expect(t.feed.state).toBe('closed');
    expect(t.stream.destroyed).toBe(true);
    t.stream.write('after');
    await settle();
    expect(t.received()).toBe('');
  });

  it('draining + eof → closed: CloseIO then EOF is the normal end, no reopen', async () => {
    const t = await feedIn('draining');
    t.stream.end('hi\n');
    await settle();
    expect(t.feed.state).toBe('closed');
    expect(t.reopens).toHaveLength(0);
    expect(t.received()).toBe('hi\n');
  });

  it('draining + console-gone → closed: closing input is not carried over to a new console', async () => {
    const t = await feedIn('draining');
    t.hangUp();
    expect(t.feed.state).toBe('closed');
    expect(t.stream.destroyed).toBe(true);
  });

  const HOLDING_FIFO = ['waiting', 'flowing', 'close-requested', 'draining'] as const;

  it.each(HOLDING_FIFO)('%s + read-error → closed, with a warning', async (state) => {
    const t = await feedIn(state);
    t.stream.destroy(new Error('EIO'));
    await settle();
    expect(t.feed.state).toBe('closed');
    expect(warned(t.logs)).toEqual(['stdin fifo read failed; console input stops']);
  });

  it.each(HOLDING_FIFO)('%s + task-exit → closed: copying stops and the fifo read side is closed', async (state) => {
    const t = await feedIn(state);
    t.feed.taskExit();
    expect(t.feed.state).toBe('closed');
    expect(t.stream.destroyed).toBe(true);
    t.stream.write('after exit'); // a destroyed stream takes nothing; nothing reaches the console
    await settle();
    expect(t.received()).toBe('');
  });

  it('reopening + reopened with a live console → flowing on the fresh read side', async () => {
    const t = await feedIn('reopening');
    const fresh = new PassThrough();
    t.reopens[0]!.resolve(fresh);
    await settle();
    expect(t.feed.state).toBe('flowing');
    fresh.write('next client\n');
    await settle();
    expect(t.received()).toBe('next client\n');
  });

  it('reopening + reopened with no console → waiting (the next attach feeds it)', async () => {
    const t = await feedIn('reopening');
    t.hangUp(); // console-gone is no transition in reopening: nothing to stop
    expect(t.feed.state).toBe('reopening');
    const fresh = new PassThrough();
    t.reopens[0]!.resolve(fresh);
    await settle();
    expect(t.feed.state).toBe('waiting');
    fresh.write('typed\n');
    t.attach();
    await settle();
    expect(t.received()).toBe('typed\n');
  });

  it('reopening + reopen-failed → closed, with a warning', async () => {
    const t = await feedIn('reopening');
    t.reopens[0]!.reject(new Error('ENOENT'));
    await settle();
    expect(t.feed.state).toBe('closed');
    expect(warned(t.logs)).toEqual(['cannot reopen the stdin fifo; console input stops']);
  });

  it.each(['close-io', 'task-exit'] as const)('reopening + %s → closed; the read side that arrives later is closed at once', async (event) => {
    const t = await feedIn('reopening');
    if (event === 'close-io') t.feed.closeIO();
    else t.feed.taskExit();
    expect(t.feed.state).toBe('closed');
    const fresh = new PassThrough();
    t.reopens[0]!.resolve(fresh);
    await settle();
    expect(t.feed.state).toBe('closed');
    expect(fresh.destroyed).toBe(true);
  });
});

const OUTSIDE_EVENTS = {
  'console-attached': (t: Awaited<ReturnType<typeof feedIn>>) => t.attach(),
  'console-gone': (t: Awaited<ReturnType<typeof feedIn>>) => t.hangUp(),
  'close-io': (t: Awaited<ReturnType<typeof feedIn>>) => t.feed.closeIO(),
  'task-exit': (t: Awaited<ReturnType<typeof feedIn>>) => t.feed.taskExit(),
} satisfies Partial<Record<StdinEvent, unknown>>;
const STATES = Object.keys(STDIN_TRANSITIONS) as StdinState[];
const IGNORED = STATES.flatMap((state) =>
  (Object.keys(OUTSIDE_EVENTS) as (keyof typeof OUTSIDE_EVENTS)[])
    .filter((event) => !stdinTransition(state, event))
    .map((event) => [state, event] as const),
);

describe('stdin lifecycle: an event the table does not list for a state changes nothing', () => {
  it('there are such pairs to check (the table is not total)', () => {
    expect(IGNORED.length).toBeGreaterThan(10);
  });

  it.each(IGNORED)('%s ignores %s', async (state, event) => {
    const t = await feedIn(state);
    const reopensBefore = t.reopens.length;
    const destroyedBefore = t.stream.destroyed;
    OUTSIDE_EVENTS[event](t);
    await settle();
    expect(t.feed.state).toBe(state);
    expect(t.stream.destroyed).toBe(destroyedBefore);
    expect(t.reopens).toHaveLength(reopensBefore);
  });
});

describe('stdin lifecycle table invariants', () => {
  it('task exit closes stdin from every state that has or is getting a fifo', () => {
    for (const state of STATES.filter((s) => s !== 'none' && s !== 'closed')) {
      expect(stdinTransition(state, 'task-exit')?.to, state).toBe('closed');
    }
  });

  it('every way into closed from a state holding the fifo closes it, and stops the pump where one runs', () => {
    const holdsStream: StdinState[] = ['waiting', 'flowing', 'close-requested', 'draining'];
    const pumps: StdinState[] = ['flowing', 'draining'];
    for (const state of holdsStream) {
      for (const [event, step] of Object.entries(STDIN_TRANSITIONS[state])) {
        if (step.to !== 'closed') continue;
        expect(step.actions, `${state} + ${event}`).toContain('close-stream');
        if (pumps.includes(state)) expect(step.actions, `${state} + ${event}`).toContain('stop-pump');
      }
    }
  });

  it('only reopening opens a read side, and a read side arriving anywhere it can arrive is adopted or dropped', () => {
    const opening = STATES.flatMap((s) => Object.entries(STDIN_TRANSITIONS[s]).filter(([, step]) => step.actions.includes('reopen-fifo')).map(([e]) => `${s}+${e}`));
    expect(opening).toEqual(['flowing+eof']);
    const leavingReopening = Object.values(STDIN_TRANSITIONS.reopening).map((step) => step.to);
    for (const to of new Set(leavingReopening)) {
      if (to === 'waiting') continue; // by `reopened` itself
      expect(stdinTransition(to, 'reopened')?.actions, to).toContain('drop-stream');
    }
  });
});
