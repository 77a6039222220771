// Why console input needs a nudge: QEMU's chardev front end watches the serial socket only
// while the UART says it can receive, and it asks that question only when its main loop runs an
// iteration. The CMSDK UART does not wake the loop when the guest enables its receiver (it does
// after each byte the guest reads), and with `-nic none` and no guest timer nothing else does:
// the loop sleeps in poll() without a timeout while input waits in the socket, and a firmware
// that simply polls the RX flag never sees a byte (QEMU 7.2: 1 of 5 runs). Any QMP command makes
// the loop iterate (it is dispatched from a main-loop bottom half), after which the UART's
// "can receive" is seen and the chain keeps itself going byte by byte.
//
// So whenever console input is handed to QEMU, the waker kicks at once and then every
// intervalMs until windowMs after the last input: the repeats cover input typed while the
// firmware has not enabled its receiver yet. A firmware that enables it later than that sees the
// waiting input with the next byte typed. Idle consoles cost nothing.

export interface WakerTiming {
  intervalMs: number;
  windowMs: number;
}

export const defaultWakerTiming: WakerTiming = { intervalMs: 50, windowMs: 2_000 };

export class MainLoopWaker {
  private timer: NodeJS.Timeout | undefined;
  private lastInputAt = 0;
  private stopped = false;

  constructor(
    /** Makes QEMU's main loop iterate once (a cheap QMP command); must not throw. */
    private readonly kick: () => void,
    private readonly timing: WakerTiming = defaultWakerTiming,
    private readonly now: () => number = Date.now,
  ) {}

  /** Console input was just written towards QEMU. */
  inputForwarded(): void {
    if (this.stopped) return;
    this.lastInputAt = this.now();
    if (this.timer) return; // the running schedule now lasts until the new window ends
    this.kick();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.kick();
      if (this.now() - this.lastInputAt < this.timing.windowMs) this.schedule();
    }, this.timing.intervalMs);
    this.timer.unref();
  }
}
