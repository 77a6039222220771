// Bounds how many micad calls occupy libuv pool threads at once. Each native call blocks one
// pool thread in poll() until micad answers or the deadline passes; libuv has only 4 threads
// by default, shared with fs.promises (the state store's atomic writes), dns and crypto. A
// dead micad must not stall those, so at most half the pool waits on micad and later calls
// queue here. micad serves one request at a time anyway, so queueing costs no throughput.
//
// Deadline invariant: a call's timeout covers its time in this queue plus connect, write and
// read; the native call gets only what is left.

import { deadlineExceeded } from '../errors';

export class CallLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly maxInFlight: number) {
    if (!(maxInFlight >= 1)) throw new RangeError('maxInFlight must be at least 1');
  }

  /** Half the libuv pool (UV_THREADPOOL_SIZE, default 4), at least 1. */
  static forThreadPool(env: NodeJS.ProcessEnv = process.env): CallLimiter {
    const pool = Number(env.UV_THREADPOOL_SIZE) || 4;
    return new CallLimiter(Math.max(1, Math.floor(pool / 2)));
  }

  /** Runs `call` with the time left of `timeoutMs` once a slot is free. */
  async run<T>(timeoutMs: number, what: string, call: (remainingMs: number) => Promise<T>): Promise<T> {
    let remaining = timeoutMs;
    if (this.active >= this.maxInFlight) {
      const start = performance.now();
      await this.waitForSlot(timeoutMs, what);
      remaining = Math.max(1, Math.floor(timeoutMs - (performance.now() - start)));
    } else {
      this.active++;
    }
    try {
      return await call(remaining);
    } finally {
      this.release();
    }
  }

  private waitForSlot(timeoutMs: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ahead = this.waiting.length + this.active;
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(
          deadlineExceeded(
            `micad ${what}: micad did not answer within ${timeoutMs} ms ` +
              `(queued behind ${ahead} unanswered micad calls)`,
          ),
        );
      }, timeoutMs);
      this.waiting.push(grant);
    });
  }

  /** Hands the slot straight to the next waiter (active stays the same) or frees it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
