// When a daemon serves nothing and nobody can reach it any more, it ends. Only containerd's
// Shutdown ends a daemon otherwise, and containerd sends none when it never connected, or left
// without one (its `ctr` client killed mid-`ctr run`, a refused bootstrap output, a storm of
// kills). So: checked a grace period after the daemon's start and after its last client
// disconnected — no timer otherwise, an idle daemon takes no CPU. A daemon with a container keeps
// running (containerd may come back for it: a restarted containerd reconnects), and so does one
// with a client.
//
// A Create still in flight with no client is one containerd gave up on (it deleted the task and
// closed the connection without waiting) or lost (containerd died). It is looked at again one
// grace later, until it ended: given up, the runtime undoes it and the daemon is empty; lost, it
// registered its container and the daemon waits for the restarted containerd. Without that second
// look, a daemon whose only check fell while such a Create ran stayed for ever.

export interface UnusedDaemonDeps {
  graceMs: number;
  /** Containers this daemon serves (a Create in flight is not one yet). */
  containerCount(): number;
  /** A Create (or CreateSandbox) still in progress. */
  creating(): boolean;
  /** Client connections open now. */
  connectionCount(): Promise<number>;
  /** The daemon is unused: end it (or let a namespace daemon wait, per shim.when_empty). */
  onUnused(why: string): void;
  /** Timer factory (tests pass fakes); defaults to an unref'd setTimeout. */
  after?: (ms: number, run: () => void) => void;
}

/** Returns `checkSoon(why)`: looks whether the daemon is unused one grace period from now. */
export function watchUnusedDaemon(deps: UnusedDaemonDeps): (why: string) => void {
  const after = deps.after ?? ((ms, run) => void setTimeout(run, ms).unref());
  const checkSoon = (why: string): void =>
    after(deps.graceMs, () => {
      void (async () => {
        if (deps.containerCount() > 0 || (await deps.connectionCount()) > 0) return; // a later disconnect checks again
        if (deps.creating()) {
          checkSoon(why);
          return;
        }
        deps.onUnused(`unused for ${deps.graceMs / 1000} s: ${why}`);
      })();
    });
  return checkSoon;
}
