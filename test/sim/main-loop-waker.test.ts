import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MainLoopWaker } from '../../src/sim/main-loop-waker';

describe('MainLoopWaker', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const newWaker = () => {
    const kick = vi.fn();
    const waker = new MainLoopWaker(kick, { intervalMs: 50, windowMs: 1_000 }, () => Date.now());
    return { kick, waker };
  };

  it('does nothing while no input is forwarded', () => {
    const { kick } = newWaker();
    vi.advanceTimersByTime(10_000);
    expect(kick).not.toHaveBeenCalled();
  });

  it('kicks at once on input, then every interval until the window after the last input ends', () => {
    const { kick, waker } = newWaker();
    waker.inputForwarded();
    expect(kick).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(500);
    expect(kick).toHaveBeenCalledTimes(11);
    waker.inputForwarded(); // more input extends the window, without an extra immediate kick
    expect(kick).toHaveBeenCalledTimes(11);
    vi.advanceTimersByTime(1_000);
    expect(kick).toHaveBeenCalledTimes(31);
    vi.advanceTimersByTime(5_000);
    expect(kick).toHaveBeenCalledTimes(31);
    waker.inputForwarded(); // a new burst after the window kicks at once again
    expect(kick).toHaveBeenCalledTimes(32);
  });

  it('stops kicking once stopped (QEMU ended)', () => {
    const { kick, waker } = newWaker();
    waker.inputForwarded();
    waker.stop();
    vi.advanceTimersByTime(5_000);
    waker.inputForwarded();
    expect(kick).toHaveBeenCalledTimes(1);
  });
});
