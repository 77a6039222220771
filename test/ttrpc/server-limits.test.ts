// Regressions (issue 11 item 9) for what one connection can make the server do: a timeout_nano
// beyond setTimeout's range aborted the call at once; calls in flight per connection were
// unbounded; and replies were queued without bound for a peer that never reads them.
import { afterEach, describe, expect, it } from 'vitest';
import { ttrpc } from '../../src/proto';
import { Code, encodeFrame, FrameDecoder, FrameType, type CallContext } from '../../src/ttrpc';
import { rawConnect, serve, sleep, text, type Served } from './helpers';

let served: Served | undefined;
afterEach(async () => {
  await served?.cleanup();
  served = undefined;
});

const request = (id: number, method: string, timeoutNano = 0) =>
  encodeFrame(id, FrameType.Request, 0, ttrpc.Request.encode({ service: 'test.Svc', method, payload: text('x'), timeoutNano }).finish());

function replies(bytes: Buffer): { streamId: number; code: number; message: string }[] {
  return new FrameDecoder().push(bytes).map((f) => {
    const r = ttrpc.Response.decode(f.data);
    return { streamId: f.streamId, code: r.status?.code ?? 0, message: r.status?.message ?? '' };
  });
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(5);
}

/** Resolves after `ms`, or rejects with the call's abort reason. */
const honoursSignal = (ms: number) => (p: Uint8Array, ctx: CallContext) =>
  new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(() => resolve(p), ms);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(ctx.signal.reason);
    });
  });

describe('ttrpc server limits', () => {
  it('regression: a timeout_nano of 30 days (beyond 2^31 ms) does not abort the call at once', async () => {
    served = await serve((s) => s.register('test.Svc', { Wait: honoursSignal(50) }));
    const conn = await rawConnect(served.socketPath);
    const thirtyDaysNs = 30 * 24 * 3600 * 1e9;
    conn.socket.write(request(1, 'Wait', thirtyDaysNs));
    await until(() => replies(conn.received()).length === 1);
    expect(replies(conn.received())).toEqual([{ streamId: 1, code: Code.OK, message: '' }]);
    conn.socket.destroy();
  });

  it('a short timeout_nano still aborts the call with DeadlineExceeded', async () => {
    served = await serve((s) => s.register('test.Svc', { Wait: honoursSignal(60_000) }));
    const conn = await rawConnect(served.socketPath);
    conn.socket.write(request(1, 'Wait', 20e6));
    await until(() => replies(conn.received()).length === 1);
    expect(replies(conn.received())[0]!.code).toBe(Code.DeadlineExceeded);
    conn.socket.destroy();
  });

  it('regression: calls beyond the per-connection limit are refused with ResourceExhausted; the rest complete', async () => {
    const release: (() => void)[] = [];
    served = await serve((s) => s.register('test.Svc', { Hold: (p) => new Promise((r) => release.push(() => r(p))) }), { maxConcurrentCalls: 3 });
    const conn = await rawConnect(served.socketPath);
    for (let id = 1; id <= 9; id += 2) conn.socket.write(request(id, 'Hold')); // 5 calls
    await until(() => replies(conn.received()).length === 2 && release.length === 3);
    expect(replies(conn.received()).map((r) => [r.streamId, r.code])).toEqual([
      [7, Code.ResourceExhausted],
      [9, Code.ResourceExhausted],
    ]);
    expect(replies(conn.received())[0]!.message).toContain('more than 3 calls in flight');
    for (const r of release) r();
    await until(() => replies(conn.received()).length === 5);
    expect(replies(conn.received()).filter((r) => r.code === Code.OK).map((r) => r.streamId).sort()).toEqual([1, 3, 5]);
    // A slot freed is a slot usable again.
    conn.socket.write(request(11, 'Hold'));
    await until(() => release.length === 4);
    release[3]!();
    await until(() => replies(conn.received()).length === 6);
    expect(replies(conn.received())[5]).toEqual({ streamId: 11, code: Code.OK, message: '' });
    conn.socket.destroy();
  });

  it('regression: a peer that sends but never reads stops being read; every reply arrives once it reads', async () => {
    let invoked = 0;
    const big = new Uint8Array(64 * 1024);
    served = await serve((s) =>
      s.register('test.Svc', {
        Big: async () => {
          invoked++;
          return big;
        },
      }),
    );
    const conn = await rawConnect(served.socketPath);
    conn.socket.pause(); // the peer reads nothing
    const total = 400;
    for (let id = 1, sent = 0; sent < total; sent += 10) {
      for (let i = 0; i < 10; i++, id += 2) conn.socket.write(request(id, 'Big'));
      await sleep(2); // requests arrive over time, as from a real client
    }
    await sleep(100);
    // 400 replies of 64 KiB would be 25 MiB queued in the server; it stopped reading instead.
    expect(invoked).toBeLessThan(total / 2);
    conn.socket.resume();
    await until(() => replies(conn.received()).length === total);
    expect(invoked).toBe(total);
    conn.socket.destroy();
  });
});

describe('disconnects', () => {
  it('onDisconnect reports each closed client with how many stay connected', async () => {
    const remaining: number[] = [];
    const s = await serve(() => {}, { onDisconnect: (n) => remaining.push(n) });
    try {
      const a = await rawConnect(s.socketPath);
      const b = await rawConnect(s.socketPath);
      await expect.poll(async () => new Promise((r) => s.server['listeners'][0]!.getConnections((_e, n) => r(n)))).toBe(2);
      a.socket.destroy();
      await expect.poll(() => remaining).toEqual([1]);
      b.socket.destroy();
      await expect.poll(() => remaining).toEqual([1, 0]);
    } finally {
      await s.cleanup();
    }
  });
});
