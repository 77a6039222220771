import { describe, expect, it } from 'vitest';
import { Code, CodedError } from '../../src/errors';
import { CallLimiter } from '../../src/mica/call-limiter';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CallLimiter', () => {
  it('runs at most maxInFlight calls at once, in arrival order', async () => {
    const limiter = new CallLimiter(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        limiter.run(5000, `call ${i}`, async () => {
          order.push(i);
          running++;
          peak = Math.max(peak, running);
          await sleep(20);
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('gives a queued call only the time left of its deadline', async () => {
    const limiter = new CallLimiter(1);
    const first = limiter.run(1000, 'first', () => sleep(200));
    let granted = 0;
    let waited = 0;
    const queuedAt = performance.now();
    await limiter.run(1000, 'second', async (remaining) => {
      waited = performance.now() - queuedAt;
      granted = remaining;
    });
    await first;
    // Relations between the deadline and the wait, which hold however busy the machine is:
    // the queued call lost at least the first call's 200 ms, and got all of what was left.
    expect(granted).toBeLessThanOrEqual(800);
    expect(granted + waited).toBeGreaterThanOrEqual(999);
  });

  it('fails a call whose deadline passes in the queue with DeadlineExceeded, and frees its place', async () => {
    const limiter = new CallLimiter(1);
    const blocker = limiter.run(5000, 'blocker', () => sleep(300));
    const err = await limiter.run(100, 'start vm0', async () => 'ran').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodedError);
    expect((err as CodedError).code).toBe(Code.DeadlineExceeded);
    expect((err as CodedError).message).toMatch(/micad start vm0: .*within 100 ms/);
    await blocker;
    expect(await limiter.run(100, 'after', async () => 'ran')).toBe('ran');
  });

  it('releases its slot when a call throws', async () => {
    const limiter = new CallLimiter(1);
    await expect(limiter.run(100, 'x', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(100, 'y', async () => 1)).toBe(1);
  });

  it('sizes itself to half the libuv pool', () => {
    expect(CallLimiter.forThreadPool({}).maxInFlight).toBe(2);
    expect(CallLimiter.forThreadPool({ UV_THREADPOOL_SIZE: '16' }).maxInFlight).toBe(8);
    expect(CallLimiter.forThreadPool({ UV_THREADPOOL_SIZE: '1' }).maxInFlight).toBe(1);
  });
});
